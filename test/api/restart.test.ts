import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { sdkClient, validStart } from '../helpers/node.js';
import { spawnService } from '../helpers/process.js';

const keys = { accessKey: 'AKRESTART00000001', secretKey: 'restart-test-secret-key-0000001' };
const env = (dataDir: string) => ({ WEBCAST_WORKER: 'false', WEBCAST_DATA_DIR: dataDir, WEBCAST_ACCESS_KEY: keys.accessKey, WEBCAST_SECRET_KEY: keys.secretKey });
const statusOf = async (host: string, TaskId: string) => {
  const res = await sdkClient(host, keys).get({ AppId: 'app1', RoomId: 'room1', TaskId });
  return (res.Result as { WebCastTask: { Status: number; StopReason: string; StartTime: number } } | undefined)?.WebCastTask;
};

describe('the service as a process', () => {
  const dirs: string[] = [];
  const tempDir = () => {
    const d = mkdtempSync(path.join(tmpdir(), 'webcast-proc-'));
    dirs.push(d);
    return d;
  };
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('keeps every task across a SIGKILL and resumes the active ones', async () => {
    const dataDir = tempDir();
    const first = await spawnService(env(dataDir));
    const api = sdkClient(first.host, keys);
    assert.equal((await api.start(validStart({ TaskId: 'running' }))).Result, 'ok');
    assert.equal((await api.start(validStart({ TaskId: 'stopped' }))).Result, 'ok');
    assert.equal((await api.stop({ AppId: 'app1', RoomId: 'room1', TaskId: 'stopped' })).Result, 'ok');
    const before = await statusOf(first.host, 'running');
    await first.stop('SIGKILL');

    const second = await spawnService(env(dataDir));
    try {
      const running = await statusOf(second.host, 'running');
      assert.equal(running?.Status, 1);
      assert.equal(running?.StartTime, before?.StartTime);
      const stopped = await statusOf(second.host, 'stopped');
      assert.equal(stopped?.Status, 3);
      assert.equal(stopped?.StopReason, 'StopByAPI');
      assert.match(second.output(), /"resumed":1/);
      const dup = await sdkClient(second.host, keys).start(validStart({ TaskId: 'stopped' }));
      assert.equal(dup.ResponseMetadata.Error?.Code, 'InvalidParameter.TaskAlreadyExists');
    } finally {
      assert.equal(await second.stop('SIGTERM'), 0, 'SIGTERM should end the service cleanly');
    }
  });

  it('never writes the secret key or a SourceURL’s query to its output', async () => {
    const service = await spawnService(env(tempDir()));
    const api = sdkClient(service.host, keys);
    await api.start(validStart({ TaskId: 'secret-url', SourceURL: 'https://user:pw@example.com/board?token=TOPSECRET123#frag' }));
    await api.start(validStart({ TaskId: 'secret-url', SourceURL: 'https://example.com/?token=TOPSECRET123' }));
    await api.start(validStart({ TaskId: 'bad', SourceURL: 'https://example.com/?token=TOPSECRET123', MaxRunningTime: 1 }));
    await sdkClient(service.host, { ...keys, secretKey: 'wrong' }).get({ AppId: 'app1', RoomId: 'room1', TaskId: 'secret-url' });
    await service.stop();
    const out = service.output();
    assert.match(out, /task accepted/);
    assert.match(out, /https:\/\/example\.com\/board\?\[redacted\]/);
    for (const secret of ['TOPSECRET123', keys.secretKey, 'user:pw', 'X-Signature', 'Signature=']) {
      assert.equal(out.includes(secret), false, `the output contains ${secret}`);
    }
  });

  it('generates a key pair on first start, shows its secret that once, and keeps it private', async () => {
    const dataDir = tempDir();
    const first = await spawnService({ WEBCAST_WORKER: 'false', WEBCAST_DATA_DIR: dataDir });
    await first.stop();
    const shown = /SecretKey: (\S+)/.exec(first.output())?.[1];
    const accessKey = /AccessKey: (\S+)/.exec(first.output())?.[1];
    assert.ok(shown && accessKey, first.output());
    assert.equal(statSync(path.join(dataDir, 'credentials.json')).mode & 0o777, 0o600);
    // The task store and everything else in the folder are the service's user's alone.
    assert.equal(statSync(dataDir).mode & 0o777, 0o700);
    const open = readdirSync(dataDir, { recursive: true, encoding: 'utf8' }).filter((f) => (statSync(path.join(dataDir, f)).mode & 0o077) !== 0);
    assert.deepEqual(open, [], 'no file of the data folder is open to others');
    assert.ok(readdirSync(dataDir).includes('webcast.sqlite'));

    const second = await spawnService({ WEBCAST_WORKER: 'false', WEBCAST_DATA_DIR: dataDir });
    try {
      assert.equal(second.output().includes(shown), false);
      assert.match(second.output(), new RegExp(`using the key pair ${accessKey}`));
      const res = await sdkClient(second.host, { accessKey, secretKey: shown }).start(validStart());
      assert.equal(res.Result, 'ok');
    } finally {
      await second.stop();
    }
  });

  it('refuses to start with half a key pair, and says why', async () => {
    await assert.rejects(spawnService({ WEBCAST_WORKER: 'false', WEBCAST_DATA_DIR: tempDir(), WEBCAST_ACCESS_KEY: 'AKONLY' }), /set both WEBCAST_ACCESS_KEY and WEBCAST_SECRET_KEY/);
  });
  it('fails a task with NodeCrashLoop when the node died soon after resuming it three starts in a row, and only then', async () => {
    const dataDir = tempDir();
    // Deaths come at once after the node listens, a settled run twice the stable time after:
    // on a loaded machine the settled mark came more than 0.5 s late (2026-11-27, with 3 and 3.5 s).
    const quick = { ...env(dataDir), WEBCAST_RESUME_STABLE_SECONDS: '4' };
    const first = await spawnService(quick);
    const api = sdkClient(first.host, keys);
    assert.equal((await api.start(validStart({ TaskId: 'killer' }))).Result, 'ok');
    await first.stop('SIGKILL');

    // A clean stop soon after a resume is no death; a settled resume starts the count again.
    for (let i = 0; i < 3; i += 1) await (await spawnService(quick)).stop('SIGTERM');
    for (let i = 0; i < 2; i += 1) await (await spawnService(quick)).stop('SIGKILL');
    const settled = await spawnService(quick);
    await new Promise((r) => setTimeout(r, 8000));
    await settled.stop('SIGKILL');

    // Had the settled resume counted, this start would fail the task (two deaths, then it).
    const resumedAgain = await spawnService(quick);
    assert.equal((await statusOf(resumedAgain.host, 'killer'))?.Status, 1, 'still resumed');
    await resumedAgain.stop('SIGKILL');
    for (let i = 0; i < 2; i += 1) await (await spawnService(quick)).stop('SIGKILL');
    const last = await spawnService(quick);
    try {
      const task = await statusOf(last.host, 'killer');
      assert.deepEqual([task?.Status, task?.StopReason], [4, 'NodeCrashLoop']);
      assert.match(last.output(), /the node stopped within 4 s of resuming this task 3 times in a row/);
      assert.doesNotMatch(last.output(), /"resumed":/);
    } finally {
      await last.stop('SIGTERM');
    }
  });
});
