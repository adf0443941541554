import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { after, before, describe, it } from 'node:test';
import { NODE_ADMISSION, ProcLoadGauge, taskCost } from '../../src/scheduler/admission.js';
import { getTask, sdkClient, startTestNode, waitFor } from '../helpers/node.js';
import { startPageServer, type PageServer } from '../helpers/pages.js';

const LIGHT = { Width: 1280, Height: 720, FrameRate: 15 };

const TASKS = 6;

describe('admission by cost, with the default settings', { timeout: 300_000 }, () => {
  let pages: PageServer;
  before(async () => {
    pages = await startPageServer();
  });
  after(() => pages.close());

  it('fills the node with light pages, beyond one per core where the machine has room, each at 90 % of its rate, and keeps the rest waiting until there is room', async () => {
    // Nothing set but what every engine test needs: WEBCAST_MAX_TASKS and the budget are the defaults.
    const t = await startTestNode({ env: { WEBCAST_WORKER: 'true', WEBCAST_URL_ALLOWLIST: '127.0.0.1', WEBCAST_ADMISSION: 'cost' } });
    try {
      const engine = t.node.worker?.engine;
      assert.ok(engine);
      const keys = Array.from({ length: TASKS }, (_, i) => ({ AppId: 'fill', RoomId: `r${i}`, TaskId: `t${i}` }));
      for (const key of keys) {
        const res = await sdkClient(t.host).start({ ...key, UserId: key.TaskId, SourceURL: `${pages.url}/tone`, VideoSolutions: [LIGHT] });
        assert.equal(res.Result, 'ok');
      }
      // The node settles: the burst's first tasks ramp up (10 s), what measuring them left room
      // for follows, and on a slow day an overloaded node moves a task back (20 s at 94 % after
      // the ramp). Measured once nothing came on air or left it for that long, and over 10 s that stay so.
      // Every task seen on air: one the node moved back waits in Status 2, the others in 1.
      const everOnAir = new Set<(typeof keys)[number]>();
      const onAirNow = () => {
        const now = keys.filter((k) => engine.snapshot().onAir.includes(`${k.AppId}/${k.RoomId}/${k.TaskId}`));
        for (const k of now) everOnAir.add(k);
        return now;
      };
      const sameSince = { keys: '', at: performance.now() };
      const settled = async (quietMs: number): Promise<typeof keys> => {
        const deadline = performance.now() + 120_000;
        for (;;) {
          if (performance.now() > deadline) assert.fail(`the node did not settle for ${quietMs} ms within 2 minutes: ${JSON.stringify(t.logs.slice(-20))}`);
          const now = onAirNow();
          const id = JSON.stringify(now);
          if (id !== sameSince.keys) Object.assign(sameSince, { keys: id, at: performance.now() });
          else if (performance.now() - sameSince.at >= quietMs) return now;
          await new Promise((r) => setTimeout(r, 500));
        }
      };
      let onAirKeys: typeof keys = [];
      let fps: number[] = [];
      let busyCores = NaN;
      for (let round = 0; round < 3; round += 1) {
        onAirKeys = await settled(NODE_ADMISSION.rampMs + NODE_ADMISSION.overloadMs + 2_000);
        const sent = async (): Promise<number[]> => Promise.all(onAirKeys.map(async (k) => (await engine.session(k)?.stats())?.video[0]?.framesSent ?? 0));
        const a = await sent();
        // The machine's load as the node's own admission measures it, over the same 10 s.
        const gauge = new ProcLoadGauge(availableParallelism(), 10_000);
        gauge.start();
        const t0 = performance.now();
        await new Promise((r) => setTimeout(r, 10_000));
        const b = await sent();
        fps = b.map((x, i) => (x - (a[i] ?? 0)) / ((performance.now() - t0) / 1000));
        busyCores = gauge.busyCores();
        gauge.stop();
        if (JSON.stringify(onAirNow()) === JSON.stringify(onAirKeys)) break;
      }
      t.logs.push(JSON.stringify({ msg: 'admission measured', onAir: onAirKeys.length, fps: fps.map((f) => Number(f.toFixed(1))), busyCores }));
      // Beyond one per core wherever the machine has room for it. A machine so slow that a light
      // task takes a third of its cores (0.7 of 2 on a slow day here, 0.3–0.5 on others) holds
      // only two at their rate: there the node must have stopped because one more would not fit.
      const budget = t.config.cpuBudget * availableParallelism();
      // One more costs what the model says, or what a task takes here if that is more (as the node
      // itself expects after it was overloaded).
      const oneMore = Math.max(taskCost([{ ...LIGHT, Bitrate: 0 }]), busyCores / Math.max(1, onAirKeys.length));
      const roomLeft = busyCores + oneMore <= budget;
      assert.ok(
        onAirKeys.length > availableParallelism() || !roomLeft,
        `${onAirKeys.length} light tasks on air on ${availableParallelism()} cores: no more than by count, with ${busyCores.toFixed(2)} cores busy, ${oneMore.toFixed(2)} more for one more task, of a budget of ${budget.toFixed(2)}`,
      );
      for (const f of fps) assert.ok(f >= 0.9 * LIGHT.FrameRate, `a task on air sends ${f.toFixed(1)} fps (all: ${fps.map((x) => x.toFixed(1)).join(', ')})`);
      // A node at the edge may still move a task off after the measurement (20 s above 94 %,
      // counted again after every dip): that task waits at the head of the line, in Status 2.
      const onAirLater = onAirNow();
      const waiting = keys.filter((k) => !onAirLater.includes(k));
      assert.equal(engine.snapshot().waiting.length, waiting.length, 'every other task waits in line');
      for (const k of waiting) assert.equal((await getTask(t.host, k))?.Status, everOnAir.has(k) ? 2 : 1, `${k.TaskId}, ${everOnAir.has(k) ? 'moved back' : 'never on air'}`);
      const headKey = engine.snapshot().waiting[0];
      const next = keys.find((k) => `${k.AppId}/${k.RoomId}/${k.TaskId}` === headKey);
      if (next) {
        assert.ok(t.logs.some((l) => l.includes('the node is full: the task waits')), 'the node says why a task waits');
        // Tasks end, one at a time, until the room they free fits the first in line (on a slow
        // day the node measures itself near full, and one light task's room may not be enough):
        // then the first in line takes that room (the line is served in order).
        const ended: typeof keys = [];
        const nextOnAir = () => onAirNow().includes(next);
        for (const k of onAirLater) {
          await sdkClient(t.host).stop(k);
          ended.push(k);
          const onAir = await waitFor(`${next.TaskId} on air`, async () => nextOnAir(), 20_000).catch(() => false);
          if (onAir) break;
        }
        assert.ok(nextOnAir(), `${next.TaskId} on air after ${ended.length} of ${onAirLater.length} tasks ended`);
        assert.equal((await getTask(t.host, next))?.Status, 2);
        t.logs.push(JSON.stringify({ msg: 'admission: first in line on air', afterEnded: ended.length }));
      }
    } finally {
      await t.close();
    }
  });
});
