import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { getTask, sdkClient, waitFor } from '../helpers/node.js';
import { PAGE_COLOR, TONE_HZ, near } from '../helpers/pages.js';
import type { Subscriber } from '../helpers/subscriber.js';
import { workerSuite } from '../helpers/worker-suite.js';

/**
 * The rate a task keeps, over `ms`, not its first seconds, which can be slower while a new
 * publication and its viewer settle (one CI run decoded 10.4 fps of 12 from the 2nd second, by
 * hand 11.9-12.1; another 8.3 of 30 from the first, right after the hostile suite).
 */
async function settledFps(viewer: Subscriber, ms: number): Promise<number> {
  await new Promise((r) => setTimeout(r, 2000));
  return viewer.measuredFps(ms);
}

/** Frame rates and layer sizes at a viewer: run alone (scripts/run-tests.sh). What happens to a page on air is page-lifecycle.test.ts. */
describe('a page published into a real Janus room by a real Chromium', { timeout: 180_000 }, () => {
  // With the default CPU ceiling: the test page at 1280x720@30 takes 1.0-1.2 cores here, which a
  // ceiling of twice the model's cost (one core) held back 0.5-1.2 s of every 3, and its sound
  // broke at times (a viewer heard 457.6 Hz of a 440 Hz tone, once on CI).
  const s = workerSuite({ WEBCAST_MAX_TASKS: '3' });
  const { rooms, join } = s;

  it('shows the page in the room as the user, in both simulcast layers, with its colour and its sound', async () => {
    const key = { AppId: 'app1', RoomId: 'sim', TaskId: 'sim1' };
    const started = await sdkClient(s.t.host).start({
      ...key,
      UserId: 'slides-bot',
      SourceURL: `${s.pages.url}/tone`,
      VideoSolutions: [
        { Width: 1280, Height: 720, FrameRate: 30 },
        { Width: 640, Height: 360, FrameRate: 15 },
      ],
    });
    assert.equal(started.Result, 'ok', JSON.stringify(started.ResponseMetadata.Error));
    const running = await waitFor('Status 2', async () => (await getTask(s.t.host, key))?.Status === 2 && (await getTask(s.t.host, key)));
    assert.equal(running.StopReason, '');

    const publishers = await rooms().publishers({ appId: 'app1', roomId: 'sim' });
    assert.deepEqual(publishers.map((p) => p.userId), ['slides-bot']);

    const big = await join('sim', 'slides-bot', 1);
    const v1 = await big.waitForVideo((v) => v.width === 1280 && v.framesDecoded > 30);
    assert.deepEqual([v1.width, v1.height], [1280, 720]);
    assert.equal(v1.codec, 'video/VP8');
    const fpsBig = await settledFps(big, 3000);
    assert.ok(fpsBig >= 0.8 * 30, `big layer at ${fpsBig.toFixed(1)} fps, asked 30`);
    const colour = await big.pixel(0.5, 0.8);
    assert.ok(near(colour, PAGE_COLOR), `decoded ${colour.join(',')}, page is ${PAGE_COLOR.join(',')}`);
    const tone = await big.loudestFrequency(2000);
    assert.ok(Math.abs(tone.hz - TONE_HZ) < 15, `loudest ${tone.hz} Hz`);

    await big.setLayer(0);
    const v0 = await big.waitForVideo((v) => v.width === 640);
    assert.deepEqual([v0.width, v0.height], [640, 360]);
    const fpsSmall = await big.measuredFps(3000);
    assert.ok(fpsSmall >= 0.8 * 15 && fpsSmall <= 15 * 1.2, `small layer at ${fpsSmall.toFixed(1)} fps, asked 15`);

    const metrics = await (await fetch(`${s.t.url}/metrics`)).text();
    assert.match(metrics, /webcast_tasks\{status="running",node="[^"]+"\} 1\n/);
    assert.match(metrics, /webcast_start_latency_seconds_count\{node="[^"]+"\} 1\n/);
    // Where the start went, phase by phase, for the operator to see which one grew.
    for (const phase of ['slot', 'browser', 'context', 'capture', 'page', 'publish', 'firstFrame']) {
      assert.match(metrics, new RegExp(`webcast_start_phase_seconds_count\\{[^}]*phase="${phase}"[^}]*\\} 1\\n`), phase);
    }
    // A light page that moves in every frame is not what its default ceiling is for.
    const throttled = Number(/webcast_task_cpu_throttled_seconds_total\{node="[^"]+"\} ([\d.e-]+)/.exec(metrics)?.[1]);
    const onAirSeconds = (Date.now() - running.StartTime) / 1000;
    assert.ok(throttled < 0.05 * onAirSeconds, `held back by its CPU ceiling ${throttled.toFixed(2)} s of ${onAirSeconds.toFixed(1)} s`);
    const frames = Number(/webcast_frames_published_total\{node="[^"]+"\} (\d+)/.exec(metrics)?.[1]);
    // Both layers for several seconds: well over a hundred frames, and no more than were possible.
    assert.ok(frames > 100, `frames published: ${frames}`);
    assert.ok(frames < ((Date.now() - running.StartTime) / 1000) * 45, `frames published: ${frames}`);
    await big.leave();
  });

  it('takes the publisher out of the room within 2 s of StopWebcast', async () => {
    const key = { AppId: 'app1', RoomId: 'sim', TaskId: 'sim1' };
    const stopped = await sdkClient(s.t.host).stop(key);
    assert.equal(stopped.Result, 'ok');
    const t0 = Date.now();
    await waitFor('the publisher to leave', async () => (await rooms().publishers({ appId: 'app1', roomId: 'sim' })).length === 0, 2000, 50);
    const task = await getTask(s.t.host, key);
    assert.deepEqual([task?.Status, task?.StopReason], [3, 'StopByAPI']);
    assert.ok(Date.now() - t0 <= 2000);
  });

  // The warm browser captured its tab at 1280x720@15; these tasks are smaller and slower. A
  // capture held to a rate under 15 delivered about two thirds of it (10 → 6-7 fps, 12 → 4.6).
  // Each runs with nothing else on the node: beside the 1280x720@30 simulcast task above and its
  // viewer, a 2-core CI machine launched the next browser in 9.3 s and its encoders gave up frames
  // (4.4 fps of 5).
  for (const [width, height, frameRate] of [[640, 360, 10], [1280, 720, 5], [320, 180, 12]] as const) {
    it(`sends a task of ${width}x${height}@${frameRate}, below the warm capture's size or rate, at its size and rate`, async (t) => {
      const key = { AppId: 'app1', RoomId: `slow${frameRate}`, TaskId: `slow${frameRate}` };
      await sdkClient(s.t.host).start({ ...key, UserId: `slow${frameRate}`, SourceURL: `${s.pages.url}/tone`, VideoSolutions: [{ Width: width, Height: height, FrameRate: frameRate }] });
      await waitFor('Status 2', async () => (await getTask(s.t.host, key))?.Status === 2, 30_000);
      const viewer = await join(`slow${frameRate}`, `slow${frameRate}`);
      const video = await viewer.waitForVideo((v) => v.framesDecoded > 2 * frameRate);
      assert.deepEqual([video.width, video.height], [width, height]);
      const fps = await settledFps(viewer, 5000);
      t.diagnostic(`${width}x${height}@${frameRate}: ${fps.toFixed(1)} fps at the viewer`);
      await viewer.leave();
      await sdkClient(s.t.host).stop(key);
      assert.ok(fps >= 0.9 * frameRate && fps <= 1.15 * frameRate, `${fps.toFixed(1)} fps at the viewer, asked ${frameRate}`);
    });
  }
});
