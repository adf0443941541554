import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { getTask, sdkClient, waitFor } from '../helpers/node.js';
import { cmdline, pidsWhere } from '../helpers/procfs.js';
import { workerSuite } from '../helpers/worker-suite.js';

const small = { VideoSolutions: [{ Width: 320, Height: 180, FrameRate: 10 }] };

/** Kills every process of the browser launched last under `folder` (its cgroup's), and says how many. */
function killNewestBrowser(folder: string): number {
  const launches = pidsWhere((cmd) => cmd.includes(`--user-data-dir=${folder}/`) && !cmd.includes('--type='))
    .map((pid) => ({ pid, n: Number(new RegExp(`--user-data-dir=${folder}/(\\d+)-`).exec(cmdline(pid))?.[1] ?? -1) }))
    .sort((a, b) => b.n - a.n);
  const newest = launches[0];
  if (!newest) return 0;
  const group = /:memory:(\S+)/.exec(readFileSync(`/proc/${newest.pid}/cgroup`, 'utf8'))?.[1];
  const pids = group ? readFileSync(`/sys/fs/cgroup/memory${group}/cgroup.procs`, 'utf8').split('\n').filter(Boolean).map(Number) : [newest.pid];
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  return pids.length;
}

/**
 * The warm browser a task takes is replaced at once by another, launched and readied (its
 * context, controller and tab) in the background. One that dies on the way (killed here, as the
 * kernel's OOM killer or a crash would) must neither hold up the next Start nor the node's stop:
 * Playwright left a call the browser's death cut off pending for ever (a newPage(), in about
 * one of six kills spread over a preparation), and the next Start waited on it.
 */
describe('warm browsers that die while they are readied', { timeout: 180_000, skip: process.getuid?.() !== 0 ? 'needs root (cgroups)' : false }, () => {
  const s = workerSuite({ WEBCAST_MAX_TASKS: '4' });

  it('do not hold up the next Start, wherever in their preparation they die', async () => {
    const folder = s.t.node.worker?.browsers.folder;
    assert.ok(folder);
    for (const [i, delayMs] of [500, 900, 1300, 1700, 2100].entries()) {
      const first = { AppId: 'app1', RoomId: `warm${i}`, TaskId: `takes${i}` };
      const next = { AppId: 'app1', RoomId: `warm${i}`, TaskId: `next${i}` };
      // The first takes the ready browser; its replacement launches, and dies a moment later.
      assert.equal((await sdkClient(s.t.host).start({ ...first, UserId: `takes${i}`, SourceURL: `${s.pages.url}/tone`, ...small })).Result, 'ok');
      await new Promise((r) => setTimeout(r, delayMs));
      assert.ok(killNewestBrowser(folder) > 0, 'a warm browser was there to kill');
      await waitFor(`${first.TaskId} on air`, async () => (await getTask(s.t.host, first))?.Status === 2, 30_000);
      assert.equal((await sdkClient(s.t.host).start({ ...next, UserId: `next${i}`, SourceURL: `${s.pages.url}/tone`, ...small })).Result, 'ok');
      await waitFor(`${next.TaskId} on air after the warm browser died ${delayMs} ms after the Start before it`, async () => (await getTask(s.t.host, next))?.Status === 2, 30_000);
      await sdkClient(s.t.host).stop(first);
      await sdkClient(s.t.host).stop(next);
      await waitFor('both ended', async () => (await getTask(s.t.host, first))?.Status === 3 && (await getTask(s.t.host, next))?.Status === 3, 15_000);
    }
  });
});
