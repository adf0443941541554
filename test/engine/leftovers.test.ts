import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tagOf } from '../../src/capture/browser-firewall.js';
import { mountsUnder } from '../../src/capture/browser-mounts.js';
import { nodeKey } from '../../src/capture/cloud-browser.js';
import { sdkClient, waitFor } from '../helpers/node.js';
import { startPageServer, type PageServer } from '../helpers/pages.js';
import { runToExit, spawnService } from '../helpers/process.js';
import { procStat } from '../../src/capture/proc-stat.js';
import { pidsWhere } from '../helpers/procfs.js';

const keys = { accessKey: 'AKLEFTOVERS000001', secretKey: 'leftovers-test-secret-key-000001' };
/** The OUTPUT rules that send a node's browser uids into the browsers' chain, by the node's pid. */
const jumpsOf = (pid: number | undefined): string[] =>
  execFileSync('iptables', ['-S', 'OUTPUT'], { encoding: 'utf8' }).split('\n').filter((l) => l.includes('-j WEBCAST-BROWSER') && tagOf(l)?.pid === pid);

/** The egress proxy's process of the service `pid` (its child: the service starts it through setpriv, which execs). */
const egressOf = (pid: number | undefined): number[] => pidsWhere((cmd) => cmd.includes('egress-process.ts')).filter((p) => procStat(p)?.ppid === pid);

describe('a worker killed with SIGKILL', { timeout: 120_000 }, () => {
  let pages: PageServer;
  const dataDir = mkdtempSync(path.join(tmpdir(), 'webcast-leftovers-'));
  const browsersRoot = path.join(tmpdir(), `webcast-browsers-${nodeKey(dataDir)}`);
  const env = { WEBCAST_WORKER: 'true', WEBCAST_DATA_DIR: dataDir, WEBCAST_ACCESS_KEY: keys.accessKey, WEBCAST_SECRET_KEY: keys.secretKey, WEBCAST_URL_ALLOWLIST: '127.0.0.1' };
  const ours = () => pidsWhere((cmd) => cmd.includes(browsersRoot) || cmd.includes(path.join(dataDir, 'janus')));
  before(async () => {
    pages = await startPageServer();
  });
  after(async () => {
    await pages.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('leaves no Chromium and no Janus running, and the next start clears its browser folders', async () => {
    const first = await spawnService(env);
    const key = { AppId: 'app1', RoomId: 'room1', TaskId: 'killed' };
    await sdkClient(first.host, keys).start({ ...key, UserId: 'u', SourceURL: `${pages.url}/tone`, VideoSolutions: [{ Width: 320, Height: 180, FrameRate: 10 }] });
    await waitFor('on air', async () => {
      const res = await sdkClient(first.host, keys).get(key);
      return (res.Result as { WebCastTask?: { Status: number } } | undefined)?.WebCastTask?.Status === 2;
    }, 30_000);
    const folders = readdirSync(browsersRoot);
    assert.ok(ours().length >= 4, 'Chromium and Janus run');
    const egress = egressOf(first.child.pid);
    assert.equal(egress.length, 1, 'the egress proxy runs in a process of its own');
    await first.stop('SIGKILL');
    await waitFor('every Chromium and Janus gone', async () => ours().length === 0, 5000, 100);
    await waitFor('the egress proxy gone', async () => pidsWhere((cmd) => cmd.includes('egress-process.ts')).every((pid) => !egress.includes(pid)), 5000, 100);

    // Its firewall jump for its browsers' uids outlives it, until the next start of any node.
    const killedPid = first.child.pid;
    assert.ok(jumpsOf(killedPid).length > 0, 'the killed node\'s firewall jump is still there');
    const second = await spawnService(env);
    try {
      for (const f of folders) assert.equal(existsSync(path.join(browsersRoot, f)), false, `${f} is gone`);
      assert.deepEqual(jumpsOf(killedPid), [], 'the next start took the dead node\'s jump away');
      assert.equal(jumpsOf(second.child.pid).length, 1, 'and put its own');
    } finally {
      await second.stop();
    }
    assert.equal(existsSync(browsersRoot), false, 'a clean stop leaves no browser folder');
    assert.deepEqual(mountsUnder(browsersRoot), [], 'nor a browser folder\'s tmpfs');
    assert.deepEqual(jumpsOf(second.child.pid), [], 'nor its firewall jump: a later user of those uids is not held back');
  });

  it('stops cleanly on Ctrl-C: nothing is logged as having died, nothing is left running', async () => {
    const service = await spawnService(env);
    assert.ok(ours().length >= 2, 'Chromium and Janus run');
    const egress = egressOf(service.child.pid);
    assert.equal(await service.interrupt(), 0);
    // Ctrl-C reaches the egress proxy's process too, which must serve the pages to the end.
    const errors = service.output().split('\n').filter((l) => /"level":50|died|proxy stopped/.test(l));
    assert.deepEqual(errors, []);
    assert.ok(pidsWhere((cmd) => cmd.includes('egress-process.ts')).every((pid) => !egress.includes(pid)), 'the egress proxy is gone');
    await waitFor('every Chromium and Janus gone', async () => ours().length === 0, 5000, 100);
    assert.deepEqual(mountsUnder(browsersRoot), [], 'no browser folder\'s tmpfs is left mounted');
  });
});

describe('one service per data folder', { timeout: 120_000 }, () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'webcast-lock-'));
  const otherDir = mkdtempSync(path.join(tmpdir(), 'webcast-lock-other-'));
  const env = { WEBCAST_WORKER: 'true', WEBCAST_DATA_DIR: dataDir, WEBCAST_ACCESS_KEY: keys.accessKey, WEBCAST_SECRET_KEY: keys.secretKey };
  const of = (dir: string) => () => pidsWhere((cmd) => cmd.includes(path.join(tmpdir(), `webcast-browsers-${nodeKey(dir)}`)) || cmd.includes(path.join(dir, 'janus')));
  after(() => {
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(otherDir, { recursive: true, force: true });
  });

  it('a second start on a folder in use exits at once with a clear message and starts nothing; a busy port likewise', async () => {
    const first = await spawnService(env);
    try {
      const running = of(dataDir)().sort();
      const janusConfig = readdirSync(path.join(dataDir, 'janus')).map((f) => [f, statSync(path.join(dataDir, 'janus', f)).mtimeMs]);

      const second = await runToExit(env);
      assert.equal(second.code, 1);
      assert.match(second.output, new RegExp(`another webcast service \\(pid ${first.child.pid}\\) is using the data folder ${dataDir}`));
      assert.doesNotMatch(second.output, /\n\s+at /, 'one line, no stack trace');
      assert.deepEqual(of(dataDir)().sort(), running, 'it started no Janus and no Chromium');
      assert.deepEqual(readdirSync(path.join(dataDir, 'janus')).map((f) => [f, statSync(path.join(dataDir, 'janus', f)).mtimeMs]), janusConfig, 'it left the first one\'s Janus configuration alone');
      const res = await sdkClient(first.host, keys).get({ AppId: 'app1', RoomId: 'r', TaskId: 'none' });
      assert.ok(res.ResponseMetadata, 'the first one still answers');

      // Another folder, but the first one's port: it says so and leaves nothing running.
      const port = new URL(first.url).port;
      const third = await runToExit({ ...env, WEBCAST_DATA_DIR: otherDir, WEBCAST_PORT: port });
      assert.equal(third.code, 1);
      assert.match(third.output, new RegExp(`:${port} is in use by another program; set WEBCAST_PORT`));
      assert.doesNotMatch(third.output, /\n\s+at /);
      assert.deepEqual(of(otherDir)(), [], 'its Janus and browsers ended with it');
    } finally {
      await first.stop();
    }
    // The lock goes with the service: the folder is free again.
    const again = await spawnService(env);
    await again.stop();
  });
});
