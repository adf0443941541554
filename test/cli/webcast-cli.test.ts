import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../src/rooms/janus/embedded-janus.js';
import { ACCESS_KEY, SECRET_KEY, startTestNode, waitFor, type TestNode } from '../helpers/node.js';
import { startPageServer, type PageServer } from '../helpers/pages.js';

const BIN = fileURLToPath(new URL('../../bin/webcast.js', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The command as a user runs it: its own process, its own environment and working folder. */
function webcast(args: string[], opts: { env?: Record<string, string>; cwd?: string } = {}): Promise<Run> & { kill(): void; stderrSoFar(): string } {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: opts.cwd ?? tmpdir(),
    env: { PATH: process.env.PATH ?? '', HOME: tmpdir(), ...opts.env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<Run>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  return Object.assign(done, { kill: () => child.kill(), stderrSoFar: () => stderr });
}

describe('the webcast command line against a running service', { timeout: 180_000 }, () => {
  let t: TestNode;
  let pages: PageServer;
  let env: Record<string, string>;
  before(async () => {
    pages = await startPageServer();
    t = await startTestNode({ env: { WEBCAST_WORKER: 'true', WEBCAST_URL_ALLOWLIST: '127.0.0.1' } });
    env = { WEBCAST_ENDPOINT: t.url, WEBCAST_ACCESS_KEY: ACCESS_KEY, WEBCAST_SECRET_KEY: SECRET_KEY };
  });
  after(async () => {
    await t.close();
    await pages.close();
  });
  const key = ['-a', 'cli', '-r', 'room1'];

  it('starts a page, watches it come on air with a progress line, and ends the watch when it is stopped', async () => {
    // The page says it is ready after 8 s (EventNotify), so the watch sees it wait first: on a
    // slow machine the watch's own start (tsx) took longer than the 3 s this page once waited.
    const url = `${pages.url}/notify?start=8000`;
    const started = await webcast(['start', ...key, '-t', 'live', '-u', 'cli-bot', '--url', url, '--layer', '640x360@15', '--event-notify', '--start-timeout', '20'], { env });
    assert.equal(started.code, 0, started.stderr);
    assert.match(started.stdout, /started task live in cli\/room1/);
    const again = await webcast(['start', ...key, '-t', 'live', '-u', 'cli-bot', '--url', url], { env });
    assert.equal(again.code, 0);
    assert.match(again.stdout, /already active/);

    const watching = webcast(['watch', ...key, '-t', 'live', '--interval', '300'], { env });
    const deadline = Date.now() + 30_000;
    let get: Run;
    do {
      await new Promise((r) => setTimeout(r, 300));
      get = await webcast(['get', ...key, '-t', 'live', '--json'], { env });
    } while (JSON.parse(get.stdout).WebCastTask.Status !== 2 && Date.now() < deadline);
    const task = JSON.parse(get.stdout).WebCastTask;
    assert.deepEqual([task.Status, task.UserId, task.VideoSolutions[0].Width], [2, 'cli-bot', 640]);

    const human = await webcast(['get', ...key, '-t', 'live'], { env });
    assert.match(human.stdout, /Status\s+2 running/);
    assert.match(human.stdout, /Layers\s+640x360@15 adaptive/);
    const list = await webcast(['list', '-a', 'cli', '--status', 'running'], { env });
    assert.match(list.stdout, /^ROOM\s+TASK\s+STATUS/);
    assert.match(list.stdout, /room1\s+live\s+2 running\s+cli-bot/);

    const stopped = await webcast(['stop', ...key, '-t', 'live'], { env });
    assert.equal(stopped.code, 0, stopped.stderr);
    const watched = await watching;
    assert.equal(watched.code, 0, watched.stderr);
    assert.match(watched.stderr, /waiting for the first frame… \d+\.\d s/);
    // Each event once, as soon as it happens: its callback may still be on its way then.
    assert.match(watched.stdout, /WebcastStartEvent\s+callback (pending|skipped)[^\n]*\n[^\n]*WebcastFirstFrame\s+2 running/);
    assert.match(watched.stdout, /WebcastEnd\s+3 ended\s+StopByAPI/);
    assert.match(watched.stdout, /task live 3 ended: StopByAPI\n$/);
  });

  it('exits 4 from a watch whose task fails, and prints the events as JSON lines with --json', async () => {
    const run = await webcast(['start', ...key, '-t', 'broken', '-u', 'cli-bot', '--url', 'http://127.0.0.1:9/nothing-listens-here', '--watch', '--json'], { env });
    assert.equal(run.code, 4, run.stderr);
    const lines = run.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(lines[0], { Result: 'ok' });
    assert.deepEqual(lines.at(-1) && [lines.at(-1)?.type, lines.at(-1)?.Status, lines.at(-1)?.StopReason], ['end', 4, 'StartTaskFailed']);
    assert.ok(lines.some((l) => l.type === 'event' && l.EventType === 'WebcastEnd'));
    // Why, in words, though GetWebCastTask (the vendor's shape) has no field for it.
    assert.match(String(lines.at(-1)?.FailureDetail), /ERR_UNSAFE_PORT at http:\/\/127\.0\.0\.1:9\/nothing-listens-here/);
  });

  it('says why a task failed in get and watch, naming the setting that would allow it; get without --task names the task it found', async () => {
    const started = await webcast(['start', ...key, '-t', 'private', '-u', 'cli-bot', '--url', 'http://10.1.2.3/board?token=secret'], { env });
    assert.equal(started.code, 0, started.stderr);
    const watched = await webcast(['watch', ...key, '-t', 'private', '--interval', '300'], { env });
    assert.equal(watched.code, 4);
    const why = /10\.1\.2\.3 is a private address, which webcast pages may not reach unless the node's WEBCAST_URL_ALLOWLIST opens it/;
    assert.match(watched.stdout, /WebcastEnd\s+4 failed\s+StartTaskFailed[^\n]*\n\s+why: 10\.1\.2\.3: /);
    assert.match(watched.stdout, new RegExp(`task private 4 failed: StartTaskFailed \\(.*${why.source}`));
    const latest = await webcast(['get', ...key], { env });
    assert.match(latest.stdout, /^Task\s+cli\/room1\/private$/m);
    assert.match(latest.stdout, new RegExp(`^Why\\s+.*${why.source}`, 'm'));
    assert.doesNotMatch(watched.stdout, /token=secret/, 'the URL\'s token stays out of the reason');
    assert.doesNotMatch(/^Why.*$/m.exec(latest.stdout)?.[0] ?? '', /token=secret/);
  });

  it('prints the API\'s code and message and exits 1 when the service refuses', async () => {
    // Rules the command line leaves to the service (a URL's scheme, a layer's size range).
    const bad = await webcast(['start', ...key, '-t', 'bad', '-u', 'u', '--url', 'ftp://example.com', '--layer', '40x30'], { env });
    assert.equal(bad.code, 1, bad.stderr);
    assert.match(bad.stderr, /^webcast: InvalidParameter: .*SourceURL.*Width.*\(RequestId \w+\)\n$/);
    const missing = await webcast(['stop', ...key, '-t', 'never-started'], { env });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /InvalidParameter.ErrorActiveTaskNotFound/);
    const wrong = await webcast(['get', ...key, '--json'], { env: { ...env, WEBCAST_SECRET_KEY: 'not-the-secret' } });
    assert.equal(wrong.code, 1);
    assert.equal(JSON.parse(wrong.stdout).Error.Code, 'SignatureDoesNotMatch');
  });

  it('exits 2 on a usage error and 3 when the service cannot be reached', async () => {
    const usage = await webcast(['start', '-a', 'cli'], { env });
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /required option/);
    const layer = await webcast(['start', ...key, '-t', 'x', '-u', 'u', '--url', 'https://example.com', '--layer', 'big'], { env });
    assert.equal(layer.code, 2);
    assert.match(layer.stderr, /WIDTHxHEIGHT/);
    // The API's own range, and one line that says what is wrong, not the whole help.
    const range = await webcast(['start', ...key, '-t', 'x', '-u', 'u', '--url', 'https://example.com', '--max-running-time', 'abc'], { env });
    assert.equal(range.code, 2);
    assert.equal(range.stderr, "error: option '--max-running-time <seconds>' argument 'abc' is invalid. expected 0 (the default, 86400) or an integer in [10, 86400]\n(add --help for the usage)\n");
    assert.match((await webcast(['start', ...key, '-t', 'x', '-u', 'u', '--url', 'https://example.com', '--blank-check', '1'], { env })).stderr, /expected 0 \(off\) or an integer in \[2, 30\]/);
    const noKeys = await webcast(['get', ...key], { env: { WEBCAST_ENDPOINT: t.url } });
    assert.equal(noKeys.code, 2);
    assert.match(noKeys.stderr, /no access key/);
    const down = await webcast(['get', ...key], { env: { ...env, WEBCAST_ENDPOINT: 'http://127.0.0.1:9' } });
    assert.equal(down.code, 3);
    assert.match(down.stderr, /cannot reach http:\/\/127\.0\.0\.1:9/);
  });

  it('says in watch that a task waits for a free slot, its place in line, and that its MaxRunningTime runs meanwhile', async () => {
    const full = await startTestNode({ env: { WEBCAST_WORKER: 'true', WEBCAST_URL_ALLOWLIST: '127.0.0.1', WEBCAST_MAX_TASKS: '1' } });
    try {
      const fullEnv = { ...env, WEBCAST_ENDPOINT: full.url };
      const start = (task: string) => webcast(['start', ...key, '-t', task, '-u', `bot-${task}`, '--url', `${pages.url}/tone`, '--layer', '320x180@10', '--max-running-time', '3600'], { env: fullEnv });
      assert.equal((await start('first')).code, 0);
      assert.equal((await start('second')).code, 0);
      const watched = await webcast(['watch', ...key, '-t', 'second', '--timeout', '2'], { env: fullEnv });
      assert.equal(watched.code, 3, 'the watch gave up waiting, as --timeout asked');
      assert.match(watched.stderr, /waiting for a free slot: 1st in line, [\d.]+ s so far; MaxRunningTime runs meanwhile \(59 min left\)/);
      assert.match(watched.stdout, /WebcastWaiting\s+status 1\s+place 1 in line/);
    } finally {
      await full.close();
    }
  });

  it('watches through a restart of the service: says it lost it, and goes on when it answers again', async () => {
    const started = await webcast(['start', ...key, '-t', 'restart', '-u', 'cli-bot', '--url', `${pages.url}/tone`, '--layer', '320x180@10'], { env });
    assert.equal(started.code, 0, started.stderr);
    // The service as the watch sees it: nothing on this port at first, then a way through to it.
    const port = await freePort();
    const watching = webcast(['watch', ...key, '-t', 'restart', '--interval', '300'], { env: { ...env, WEBCAST_ENDPOINT: `http://127.0.0.1:${port}` } });
    // The service comes back only once the watch has found it gone (its own start may take seconds).
    await waitFor('the watch to find the service gone', async () => watching.stderrSoFar().includes('cannot reach'), 20_000);
    const target = new URL(t.url);
    const relay = http.createServer((req, res) => {
      const up = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      req.pipe(up);
    });
    await new Promise<void>((r) => relay.listen(port, '127.0.0.1', r));
    try {
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal((await webcast(['stop', ...key, '-t', 'restart'], { env })).code, 0);
      const watched = await watching;
      assert.equal(watched.code, 0, watched.stderr);
      assert.match(watched.stderr, /cannot reach http:\/\/127\.0\.0\.1:\d+.*; trying again for up to 60 s\n(.|\n)*the service answers again/);
      assert.match(watched.stdout, /task restart 3 ended: StopByAPI/);
    } finally {
      relay.closeAllConnections();
      relay.close();
    }
  });

  it('reads the endpoint and keys from a config file, or from the key a local service generated in ./data', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'webcast-cli-'));
    try {
      const file = path.join(dir, 'cli.json');
      writeFileSync(file, JSON.stringify({ endpoint: t.url, accessKey: ACCESS_KEY, secretKey: SECRET_KEY }));
      const viaFile = await webcast(['list', '-a', 'cli', '--config', file]);
      assert.equal(viaFile.code, 0, viaFile.stderr);
      assert.match(viaFile.stdout, /live/);
      mkdirSync(path.join(dir, 'data'));
      writeFileSync(path.join(dir, 'data', 'credentials.json'), JSON.stringify({ accessKey: ACCESS_KEY, secretKey: SECRET_KEY }));
      const viaData = await webcast(['list', '-a', 'cli', '--endpoint', t.url], { cwd: dir });
      assert.equal(viaData.code, 0, viaData.stderr);
      assert.match(viaData.stdout, /broken/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
