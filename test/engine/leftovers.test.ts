import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { nodeKey } from '../../src/capture/cloud-browser.js';
import { sdkClient, waitFor } from '../helpers/node.js';
import { startPageServer, type PageServer } from '../helpers/pages.js';
import { spawnService } from '../helpers/process.js';
import { pidsWhere } from '../helpers/procfs.js';

const keys = { accessKey: 'AKLEFTOVERS000001', secretKey: 'leftovers-test-secret-key-000001' };

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
    await first.stop('SIGKILL');
    await waitFor('every Chromium and Janus gone', async () => ours().length === 0, 5000, 100);

    const second = await spawnService(env);
    try {
      for (const f of folders) assert.equal(existsSync(path.join(browsersRoot, f)), false, `${f} is gone`);
    } finally {
      await second.stop();
    }
    assert.equal(existsSync(browsersRoot), false, 'a clean stop leaves no browser folder');
  });

  it('stops cleanly on Ctrl-C: nothing is logged as having died, nothing is left running', async () => {
    const service = await spawnService(env);
    assert.ok(ours().length >= 2, 'Chromium and Janus run');
    assert.equal(await service.interrupt(), 0);
    const errors = service.output().split('\n').filter((l) => /"level":50|died/.test(l));
    assert.deepEqual(errors, []);
    await waitFor('every Chromium and Janus gone', async () => ours().length === 0, 5000, 100);
  });
});
