import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { getTask, sdkClient, waitFor } from '../helpers/node.js';
import { FRESH_COLOR, PAGE_COLOR, SECOND_COLOR, near } from '../helpers/pages.js';
import { workerSuite } from '../helpers/worker-suite.js';
import { freePort } from '../../src/rooms/janus/embedded-janus.js';

/**
 * What happens to a page on air: it navigates, stands still, is replaced, runs out of time, cannot be
 * opened. These need no quiet machine, unlike publish.test.ts, which measures frame rates and
 * layer sizes and so runs alone.
 */
describe('a page on air, from start to end', { timeout: 180_000 }, () => {
  const s = workerSuite({ WEBCAST_MAX_TASKS: '3' });
  const { rooms, join } = s;

  it('keeps a page that navigates to a second page on air, and shows the second page', async () => {
    const key = { AppId: 'app1', RoomId: 'nav', TaskId: 'nav1' };
    await sdkClient(s.t.host).start({ ...key, UserId: 'nav-bot', SourceURL: `${s.pages.url}/navigates?on=nav1`, VideoSolutions: [{ Width: 640, Height: 360, FrameRate: 15 }] });
    await waitFor('Status 2', async () => (await getTask(s.t.host, key))?.Status === 2, 30_000);
    const sub = await join('nav', 'nav-bot');
    await sub.waitForVideo((v) => v.framesDecoded > 5);
    const first = await sub.pixel(0.5, 0.8);
    assert.ok(near(first, PAGE_COLOR), `first page decoded as ${first.join(',')}`);
    s.pages.go('nav1');
    await waitFor('the second page', async () => near(await sub.pixel(0.5, 0.8), SECOND_COLOR), 10_000);
    const before = (await sub.video()).framesDecoded;
    await new Promise((r) => setTimeout(r, 1500));
    assert.ok((await sub.video()).framesDecoded > before + 10, 'frames keep coming after the navigation');
    assert.equal((await getTask(s.t.host, key))?.Status, 2);
    await sdkClient(s.t.host).stop(key);
  });

  /** Puts `path` on air as `userId` in its own room, waits `quietMs`, then joins a viewer who has a frame. */
  const onAirThenJoin = async (room: string, userId: string, path: string, size: [number, number], quietMs: number) => {
    const key = { AppId: 'app1', RoomId: room, TaskId: `${room}1` };
    await sdkClient(s.t.host).start({ ...key, UserId: userId, SourceURL: `${s.pages.url}${path}`, VideoSolutions: [{ Width: size[0], Height: size[1], FrameRate: 10 }] });
    await waitFor('Status 2', async () => (await getTask(s.t.host, key))?.Status === 2, 30_000);
    await new Promise((r) => setTimeout(r, quietMs));
    const sub = await join(room, userId);
    const video = await sub.waitForVideo((v) => v.framesDecoded > 0, 5000);
    return { key, sub, video };
  };

  it('shows a still page to a viewer who joins after it went on air', async () => {
    // Nothing on the slide changes while the viewer is away.
    const { key, sub, video } = await onAirThenJoin('still', 'slide-bot', '/slide', [640, 360], 3000);
    assert.deepEqual([video.width, video.height], [640, 360]);
    const box = await sub.pixel(0.78, 0.72);
    assert.ok(near(box, PAGE_COLOR), `the slide's box decoded as ${box.join(',')}`);
    const paper = await sub.pixel(0.05, 0.95);
    assert.ok(near(paper, [255, 255, 255]), `the slide's paper decoded as ${paper.join(',')}`);
    await sdkClient(s.t.host).stop(key);
  });

  it('lets the page believe it is shown and focused all along', async () => {
    const { key, sub } = await onAirThenJoin('seen', 'seen-bot', '/visibility', [320, 180], 2000);
    const colour = await sub.pixel(0.5, 0.5);
    assert.ok(near(colour, FRESH_COLOR), `the page painted ${colour.join(',')}: it thinks it is hidden or unfocused`);
    await sdkClient(s.t.host).stop(key);
  });

  it('replaces an earlier publisher with the same UserId, and ends the earlier task', async () => {
    const first = { AppId: 'app1', RoomId: 'same', TaskId: 'first' };
    const second = { AppId: 'app1', RoomId: 'same', TaskId: 'second' };
    const body = { UserId: 'twin', SourceURL: `${s.pages.url}/tone`, VideoSolutions: [{ Width: 320, Height: 180, FrameRate: 10 }] };
    await sdkClient(s.t.host).start({ ...first, ...body });
    await waitFor('first on air', async () => (await getTask(s.t.host, first))?.Status === 2, 30_000);
    const firstFeed = (await rooms().publishers({ appId: 'app1', roomId: 'same' }))[0]?.id;
    await sdkClient(s.t.host).start({ ...second, ...body });
    await waitFor('second on air', async () => (await getTask(s.t.host, second))?.Status === 2, 30_000);
    const ended = await waitFor('first ended', async () => {
      const task = await getTask(s.t.host, first);
      return task?.Status === 3 && task;
    });
    assert.equal(ended.StopReason, 'UnknownStopReason');
    const publishers = await rooms().publishers({ appId: 'app1', roomId: 'same' });
    assert.equal(publishers.length, 1);
    assert.equal(publishers[0]?.userId, 'twin');
    assert.notEqual(publishers[0]?.id, firstFeed);
    await sdkClient(s.t.host).stop(second);
  });

  it('ends a task at MaxRunningTime', async () => {
    const key = { AppId: 'app1', RoomId: 'max', TaskId: 'max1' };
    await sdkClient(s.t.host).start({ ...key, UserId: 'timer', SourceURL: `${s.pages.url}/tone`, MaxRunningTime: 10, VideoSolutions: [{ Width: 320, Height: 180, FrameRate: 10 }] });
    await waitFor('Status 2', async () => (await getTask(s.t.host, key))?.Status === 2, 30_000);
    const ended = await waitFor('the end', async () => {
      const task = await getTask(s.t.host, key);
      return task?.Status === 3 && task;
    }, 15_000);
    assert.equal(ended.StopReason, 'ExceedMaxRunningTime');
    const ranMs = ended.EndTime - ended.StartTime;
    assert.ok(ranMs >= 10_000 && ranMs < 11_500, `ran ${ranMs} ms for MaxRunningTime 10 s`);
    // The task is marked ended first, then taken off air: the publisher is gone within 2 s.
    await waitFor('the publisher to leave', async () => (await rooms().publishers({ appId: 'app1', roomId: 'max' })).length === 0, 2000, 50);
  });

  for (const [what, path, detail] of [
    ['connection refused', 'closed-port', /ECONNREFUSED/],
    ['a DNS failure', 'http://no-such-host.invalid/', /DNS lookup of no-such-host\.invalid failed/],
    ['an HTTP error status', '/missing', /HTTP 404/],
    ['a private address (SSRF)', 'http://10.1.2.3/admin', /10\.1\.2\.3 is a private address/],
    ['the cloud metadata address (SSRF)', 'http://169.254.169.254/latest/meta-data/', /169\.254\.169\.254 is a linkLocal address/],
    ['a redirect to a private address (SSRF)', '/redirect?to=http://10.20.30.40/', /10\.20\.30\.40 is a private address/],
  ] as const) {
    it(`fails a task whose page cannot be opened: ${what} → 4/StartTaskFailed`, async () => {
      const key = { AppId: 'app1', RoomId: 'fail', TaskId: `fail-${what.replace(/\W+/g, '-')}` };
      const url = path === 'closed-port' ? `http://127.0.0.1:${await freePort()}/` : path.startsWith('/') ? `${s.pages.url}${path}` : path;
      await sdkClient(s.t.host).start({ ...key, UserId: 'nobody', SourceURL: url });
      const failed = await waitFor('Status 4', async () => {
        const task = await getTask(s.t.host, key);
        return task?.Status === 4 && task;
      });
      assert.equal(failed.StopReason, 'StartTaskFailed');
      assert.ok(failed.EndTime >= failed.StartTime);
      const stored = await s.t.node.store.get(key);
      assert.match(stored?.FailureDetail ?? '', detail);
      assert.deepEqual(await rooms().publishers({ appId: 'app1', roomId: 'fail' }), []);
    });
  }

  it('keeps a page on air whose subresource points into a private network, and refuses that request', async () => {
    const key = { AppId: 'app1', RoomId: 'sub', TaskId: 'sub1' };
    await sdkClient(s.t.host).start({ ...key, UserId: 'img', SourceURL: `${s.pages.url}/subresource?src=http://192.168.77.1/pixel.png`, VideoSolutions: [{ Width: 320, Height: 180, FrameRate: 10 }] });
    await waitFor('Status 2', async () => (await getTask(s.t.host, key))?.Status === 2, 30_000);
    const refusal = await waitFor('the refusal in the log', async () => s.t.logs.find((l) => l.includes('cloud browser request refused') && l.includes('192.168.77.1')), 5000);
    assert.match(refusal, /192\.168\.77\.1 is a private address/);
    await sdkClient(s.t.host).stop(key);
  });
});
