import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startEngineNode, type EngineSetup } from '../helpers/engine-node.js';
import { getTask, sdkClient, waitFor, type TestNode } from '../helpers/node.js';
import type { PageServer } from '../helpers/pages.js';
import { printNodeLogsOnFailure } from '../helpers/failure-logs.js';

const small = { VideoSolutions: [{ Width: 320, Height: 180, FrameRate: 10 }] };

describe('EventNotify: onWebcastStart(), onWebcastEnd() and StartTimeout', { timeout: 180_000 }, () => {
  let setup: EngineSetup;
  printNodeLogsOnFailure(() => setup?.t);
  let t: TestNode;
  let pages: PageServer;
  before(async () => {
    setup = await startEngineNode({ WEBCAST_MAX_RESCHEDULES: '1' });
    ({ t, pages } = setup);
  });
  after(() => setup.close());
  const rooms = () => {
    if (!t.node.worker) throw new Error('no worker');
    return t.node.worker.rooms;
  };
  const eventsOf = (TaskId: string) => setup.eventsOf(TaskId);

  it('publishes nothing until the page calls onWebcastStart(), then the user appears', async () => {
    const key = { AppId: 'app1', RoomId: 'late', TaskId: 'late' };
    const t0 = Date.now();
    await sdkClient(t.host).start({ ...key, UserId: 'late-bot', SourceURL: `${pages.url}/notify?start=3000`, EventNotifyConfig: { EnableEventNotify: true }, ...small });
    await new Promise((r) => setTimeout(r, 2000));
    assert.deepEqual(await rooms().publishers({ appId: 'app1', roomId: 'late' }), [], 'nobody in the room before the start event');
    assert.equal((await getTask(t.host, key))?.Status, 1);
    await waitFor('Status 2', async () => (await getTask(t.host, key))?.Status === 2);
    assert.ok(Date.now() - t0 >= 3000, 'on air only after the page said so');
    assert.deepEqual((await rooms().publishers({ appId: 'app1', roomId: 'late' })).map((p) => p.userId), ['late-bot']);
    await waitFor('callbacks', async () => eventsOf('late').length === 2);
    assert.deepEqual(eventsOf('late'), [['WebcastStartEvent', 1, ''], ['WebcastFirstFrame', 2, '']]);
    await sdkClient(t.host).stop(key);
  });

  it('ends the task when the page calls onWebcastEnd()', async () => {
    const key = { AppId: 'app1', RoomId: 'ends', TaskId: 'ends' };
    await sdkClient(t.host).start({ ...key, UserId: 'ender', SourceURL: `${pages.url}/notify?start=500&end=3000`, EventNotifyConfig: { EnableEventNotify: true }, ...small });
    await waitFor('Status 2', async () => (await getTask(t.host, key))?.Status === 2);
    const ended = await waitFor('Status 3', async () => {
      const task = await getTask(t.host, key);
      return task?.Status === 3 && task;
    });
    assert.equal(ended.StopReason, 'StopByAPI');
    await waitFor('the publisher gone', async () => (await rooms().publishers({ appId: 'app1', roomId: 'ends' })).length === 0, 3000);
  });

  it('refreshes a page that never starts, reschedules it, and fails it after the last reschedule', async () => {
    const key = { AppId: 'app1', RoomId: 'never', TaskId: 'never' };
    await sdkClient(t.host).start({ ...key, UserId: 'mute', SourceURL: `${pages.url}/notify`, EventNotifyConfig: { EnableEventNotify: true, StartTimeout: 2 }, ...small });
    const failed = await waitFor('Status 4', async () => {
      const task = await getTask(t.host, key);
      return task?.Status === 4 && task;
    }, 30_000);
    assert.equal(failed.StopReason, 'StartEventTimeout');
    // 2 s, refresh, 2 s, reschedule; 2 s, refresh, 2 s: the end.
    assert.ok(failed.EndTime - failed.StartTime >= 8000, `ended after ${failed.EndTime - failed.StartTime} ms`);
    await waitFor('four callbacks', async () => eventsOf('never').length === 4);
    assert.deepEqual(eventsOf('never'), [
      ['WebcastRefresh', 4, 'StartEventTimeout'],
      ['WebcastReschedule', 5, 'StartEventTimeout'],
      ['WebcastRefresh', 4, 'StartEventTimeout'],
      ['WebcastEnd', 4, 'StartEventTimeout'],
    ]);
    assert.deepEqual(await rooms().publishers({ appId: 'app1', roomId: 'never' }), []);
  });

  it('lets a stop end a task that still waits for its start event', async () => {
    const key = { AppId: 'app1', RoomId: 'waits', TaskId: 'waits' };
    await sdkClient(t.host).start({ ...key, UserId: 'waiter', SourceURL: `${pages.url}/notify`, EventNotifyConfig: { EnableEventNotify: true }, ...small });
    await new Promise((r) => setTimeout(r, 2000));
    assert.equal((await sdkClient(t.host).stop(key)).Result, 'ok');
    const task = await getTask(t.host, key);
    assert.deepEqual([task?.Status, task?.StopReason], [3, 'StopByAPI']);
    await new Promise((r) => setTimeout(r, 1000));
    assert.deepEqual(t.node.worker?.engine.snapshot(), { onAir: [], waiting: [] });
  });
});
