import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { getTask, sdkClient, startTestNode, waitFor } from '../helpers/node.js';
import { startPageServer, type PageServer } from '../helpers/pages.js';

/**
 * A node that restarts admits by what its machine took before (cost-factor.json in its data
 * folder), not by the model: its first burst is not the one that overloads a slow machine.
 */
describe('admission by cost after a restart', { timeout: 120_000 }, () => {
  let pages: PageServer;
  before(async () => {
    pages = await startPageServer();
  });
  after(() => pages.close());

  it('expects a task to cost what the tasks took here before it restarted', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'webcast-test-'));
    // What an earlier run of this node measured: its tasks took twice what the model says.
    writeFileSync(path.join(dataDir, 'cost-factor.json'), JSON.stringify({ factor: 2, measuredAt: '2026-11-27T03:21:13.127Z' }));
    const t = await startTestNode({ dataDir, env: { WEBCAST_WORKER: 'true', WEBCAST_URL_ALLOWLIST: '127.0.0.1', WEBCAST_ADMISSION: 'cost' } });
    try {
      const engine = t.node.worker?.engine;
      assert.ok(engine);
      assert.ok(t.logs.some((l) => l.includes('"costFactor":2') && l.includes('before the restart')), 'the node says what it expects');
      // Three small tasks at once: by the model (0.30 cores each) all three fit the 1.80 of 2
      // cores while they ramp up; at twice that, the third (1.82) does not, however idle the machine.
      // (Beside another test file's tasks the second may wait too: whichever waits first, the
      // node names the cost it expects.)
      const keys = ['a', 'b', 'c'].map((id) => ({ AppId: 'restart', RoomId: `r-${id}`, TaskId: id }));
      for (const key of keys) {
        const res = await sdkClient(t.host).start({ ...key, UserId: key.TaskId, SourceURL: `${pages.url}/tone`, VideoSolutions: [{ Width: 320, Height: 180, FrameRate: 10 }] });
        assert.equal(res.Result, 'ok');
      }
      const full = await waitFor('the node full', async () => t.logs.find((l) => l.includes('the node is full: the task waits')), 10_000);
      assert.match(full, /"task":"restart\/r-[bc]\/[bc]".*the model's 0\.30 × 2\.00, what the tasks on air take here against theirs/);
      await waitFor('the first on air', async () => (await getTask(t.host, keys[0] ?? { AppId: '', RoomId: '', TaskId: '' }))?.Status === 2, 30_000);
      assert.equal((await getTask(t.host, keys[2] ?? { AppId: '', RoomId: '', TaskId: '' }))?.Status, 1, 'the third waits');
      assert.ok(engine.snapshot().waiting.includes('restart/r-c/c'));
      for (const key of keys) await sdkClient(t.host).stop(key);
    } finally {
      await t.close();
    }
  });
});
