import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startEngineNode, type EngineSetup } from '../helpers/engine-node.js';
import { getTask, sdkClient, waitFor, type TestNode } from '../helpers/node.js';
import type { PageServer } from '../helpers/pages.js';
import { printNodeLogsOnFailure } from '../helpers/failure-logs.js';

const small = { VideoSolutions: [{ Width: 320, Height: 180, FrameRate: 10 }] };

describe('page monitors: blank, frozen, crashed', { timeout: 240_000 }, () => {
  let setup: EngineSetup;
  printNodeLogsOnFailure(() => setup?.t);
  let t: TestNode;
  let pages: PageServer;
  before(async () => {
    setup = await startEngineNode({ WEBCAST_MAX_RESCHEDULES: '1' });
    ({ t, pages } = setup);
  });
  after(() => setup.close());
  const eventsOf = (TaskId: string) => setup.eventsOf(TaskId);
  const start = async (TaskId: string, path: string, MonitorConfig: Record<string, number>) => {
    const key = { AppId: 'app1', RoomId: TaskId, TaskId };
    await sdkClient(t.host).start({ ...key, UserId: TaskId, SourceURL: `${pages.url}${path}`, MonitorConfig, ...small });
    // Other test files run beside this one: a start may wait for CPU (start latency is the bench's).
    await waitFor('Status 2', async () => (await getTask(t.host, key))?.Status === 2, 30_000);
    return key;
  };

  it('refreshes a page that turns white, reschedules it, and fails it when it stays blank', async () => {
    const key = await start('white', '/monitor?white=1500', { BlankCheckInterval: 2 });
    const failed = await waitFor('Status 4', async () => {
      const task = await getTask(t.host, key);
      return task?.Status === 4 && task;
    }, 60_000, 500);
    assert.equal(failed.StopReason, 'PageBlank');
    await waitFor('callbacks', async () => eventsOf('white').some((e) => e[0] === 'WebcastEnd'));
    assert.deepEqual(eventsOf('white'), [
      ['WebcastFirstFrame', 2, ''],
      ['WebcastRefresh', 4, 'PageBlank'],
      ['WebcastReschedule', 5, 'PageBlank'],
      ['WebcastRefresh', 4, 'PageBlank'],
      ['WebcastEnd', 4, 'PageBlank'],
    ]);
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    assert.match(metrics, /webcast_monitor_hits_total\{check="blank",action="refresh",node="[^"]+"\} 2/);
    assert.match(metrics, /webcast_monitor_hits_total\{check="blank",action="reschedule",node="[^"]+"\} 2/);
  });

  it('refreshes a page that stops repainting when FreezeCheckInterval asks', async () => {
    const key = await start('frozen', '/monitor?freeze=1500', { FreezeCheckInterval: 2 });
    await waitFor('a refresh', async () => eventsOf('frozen').some((e) => e[0] === 'WebcastRefresh'), 20_000);
    assert.deepEqual(eventsOf('frozen').find((e) => e[0] === 'WebcastRefresh'), ['WebcastRefresh', 4, 'PageFreeze']);
    await sdkClient(t.host).stop(key);
  });

  it('leaves a static slide alone when only the blank check is on', async () => {
    const key = await start('slide', '/slide', { BlankCheckInterval: 2 });
    await new Promise((r) => setTimeout(r, 9000));
    assert.deepEqual(eventsOf('slide'), [['WebcastFirstFrame', 2, '']]);
    assert.equal((await getTask(t.host, key))?.Status, 2);
    await sdkClient(t.host).stop(key);
  });

  it('reschedules a page whose JS thread hangs', async () => {
    const key = await start('spin', '/monitor?spin=1500', { CrashCheckInterval: 2 });
    await waitFor('a reschedule', async () => eventsOf('spin').some((e) => e[0] === 'WebcastReschedule'), 20_000);
    assert.deepEqual(eventsOf('spin').find((e) => e[0] === 'WebcastReschedule'), ['WebcastReschedule', 5, 'PageCrash']);
    await sdkClient(t.host).stop(key);
  });

  it('fails a page that stops answering as it loads, saying why, instead of waiting for it for ever', async () => {
    const key = { AppId: 'app1', RoomId: 'blocked', TaskId: 'blocked' };
    await sdkClient(t.host).start({ ...key, UserId: 'blocked', SourceURL: `${pages.url}/monitor?block=0`, ...small });
    const failed = await waitFor('Status 4', async () => {
      const task = await getTask(t.host, key);
      return task?.Status === 4 && task;
    }, 90_000, 500);
    assert.equal(failed.StopReason, 'PageCrash');
    assert.match((await t.node.store.get(key))?.FailureDetail ?? '', /the page did not answer for 15 s after it loaded: its main thread never yields/);
    await waitFor('callbacks', async () => eventsOf('blocked').some((e) => e[0] === 'WebcastEnd'));
    assert.deepEqual(eventsOf('blocked'), [
      ['WebcastReschedule', 5, 'PageCrash'],
      ['WebcastEnd', 4, 'PageCrash'],
    ]);
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    assert.match(metrics, /webcast_page_crashes_total\{cause="hang",node="[^"]+"\} 2/);
  });

  it('reschedules a page whose renderer crashes, and puts it back on air', async () => {
    const key = await start('crash', '/tone', { CrashCheckInterval: 2 });
    const page = t.node.worker?.engine.session(key)?.page;
    assert.ok(page);
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Page.crash').catch(() => undefined);
    await waitFor('a reschedule', async () => eventsOf('crash').some((e) => e[0] === 'WebcastReschedule'), 20_000);
    assert.deepEqual(eventsOf('crash').find((e) => e[0] === 'WebcastReschedule'), ['WebcastReschedule', 5, 'PageCrash']);
    await waitFor('back on air', async () => {
      const s = t.node.worker?.engine.session(key);
      return s !== undefined && s.page !== page && ((await s.stats().catch(() => undefined))?.video[0]?.framesSent ?? 0) > 0;
    }, 20_000);
    assert.equal((await getTask(t.host, key))?.Status, 2);
    await sdkClient(t.host).stop(key);
  });
});
