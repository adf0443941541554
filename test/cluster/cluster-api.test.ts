import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { ACCESS_KEY, SECRET_KEY, sdkClient, startTestNode, validStart, waitFor, type TestNode } from '../helpers/node.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { spawnService } from '../helpers/process.js';
import { CallbackReceiver } from '../helpers/receiver.js';
import { DELIVERER_PREFIX } from '../../src/store/postgres-task-store.js';

/**
 * The API side of a cluster, with API-only nodes on one real PostgreSQL (no worker: nothing
 * here needs a browser): limits shared across nodes, the node registry, the 72-hour rules.
 */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const run = promisify(execFile);

describe('API-only nodes of one cluster', () => {
  let pg: TestPostgres;
  let a: TestNode;
  let b: TestNode;
  before(async () => {
    pg = await startPostgres();
    const env = { WEBCAST_DATABASE_URL: pg.url, WEBCAST_WORKER: 'false', WEBCAST_RATE_LIMITS: 'GetWebCastTask=5' };
    [a, b] = await Promise.all([startTestNode({ env }), startTestNode({ env })]);
  });
  after(async () => {
    await a.close();
    await b.close();
    await pg.stop();
  });

  it('shares each access key’s rate limit across the nodes: two nodes do not allow twice as much', async () => {
    await sdkClient(a.host).start(validStart({ TaskId: 'limited' }));
    // Fire at the start of a one-second window, so that the whole burst falls in it.
    await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 20));
    const started = Date.now();
    const burst = await Promise.all(Array.from({ length: 20 }, (_, i) => sdkClient((i % 2 ? a : b).host).get({ AppId: 'app1', RoomId: 'room1', TaskId: 'limited' })));
    const took = Date.now() - started;
    const served = burst.filter((r) => r.ResponseMetadata.Error === undefined).length;
    const limited = burst.filter((r) => r.ResponseMetadata.Error?.Code === 'FlowLimitExceeded').length;
    assert.equal(served + limited, 20);
    // One window allows 5 in all; each node counting alone would serve 5 apiece.
    assert.ok(served <= (took < 950 ? 5 : 10), `served ${served} of 20 in ${took} ms`);
    assert.ok(served >= 1);
  });

  it('counts both spellings of an action into one shared budget', async () => {
    await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 20));
    const started = Date.now();
    const burst = await Promise.all(Array.from({ length: 12 }, (_, i) =>
      sdkClient((i % 2 ? a : b).host).api(i % 4 < 2 ? 'GetWebCastTask' : 'GetWebcastTask', 'GET')({ AppId: 'app1', RoomId: 'room1', TaskId: 'limited' })));
    const took = Date.now() - started;
    const served = burst.filter((r) => r.ResponseMetadata.Error === undefined).length;
    assert.ok(served <= (took < 950 ? 5 : 10), `served ${served} of 12 in ${took} ms`);
  });

  it('counts an address’s console sign-ins across the nodes for a whole minute, apart from its WHEP offers', async () => {
    // The whole test in one minute window.
    if (Date.now() % 60_000 > 40_000) await new Promise((r) => setTimeout(r, 60_000 - (Date.now() % 60_000) + 20));
    const node = (i: number) => (i % 2 ? a : b);
    for (let i = 0; i < 10; i += 1) {
      const offer = await fetch(`${node(i).url}/whep/app1/room1/bot`, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: 'hello' });
      assert.notEqual(offer.status, 429, `WHEP offer ${i + 1}`);
    }
    const signIn = (i: number) =>
      fetch(`${node(i).url}/console/api/session`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-webcast-console': '1' }, body: JSON.stringify({ AccessKey: ACCESS_KEY, SecretKey: 'guess' }) });
    for (let i = 0; i < 10; i += 1) {
      const res = await signIn(i);
      assert.equal(((await res.json()) as { ResponseMetadata: { Error?: { Code: string } } }).ResponseMetadata.Error?.Code, 'InvalidAccessKey', `sign-in ${i + 1}`);
    }
    const eleventh = await signIn(10);
    assert.equal(eleventh.status, 429, 'ten sign-ins a minute in all, whichever node took them');
    // Both nodes beat twice (every 2 s), and each beat clears old counts: not this minute's.
    await new Promise((r) => setTimeout(r, 4500));
    assert.equal((await signIn(11)).status, 429);
    assert.equal((await signIn(12)).status, 429);
  });

  it('keeps the 72-hour TaskId rule across nodes: a task that ended cannot be started again through another node', async () => {
    const key = { AppId: 'app1', RoomId: 'room1', TaskId: 'once' };
    assert.equal((await sdkClient(a.host).start(validStart(key))).Result, 'ok');
    assert.equal((await sdkClient(b.host).stop(key)).Result, 'ok');
    const again = await sdkClient(b.host).start(validStart(key));
    assert.equal(again.ResponseMetadata.Error?.Code, 'InvalidParameter.TaskAlreadyExists', JSON.stringify(again.ResponseMetadata.Error));
  });

  it('keeps at most WEBCAST_QUEUE_SIZE tasks waiting for a worker in the cluster, then answers TaskNumberOverLimit', async () => {
    const lonely = await startTestNode({ env: { WEBCAST_DATABASE_URL: await pg.newDatabase(), WEBCAST_WORKER: 'false', WEBCAST_QUEUE_SIZE: '2' } });
    try {
      const api = sdkClient(lonely.host);
      for (const TaskId of ['q1', 'q2']) assert.equal((await api.start(validStart({ TaskId }))).Result, 'ok');
      const third = await api.start(validStart({ TaskId: 'q3' }));
      assert.equal(third.ResponseMetadata.Error?.Code, 'FlowLimitExceeded.TaskNumberOverLimit', JSON.stringify(third.ResponseMetadata.Error));
      // A repeated Start of a waiting task is still answered as such.
      assert.match(String((await api.start(validStart({ TaskId: 'q1' }))).Result), /already|started/i);
      const events = (await api.api('ListWebcastTaskEvents', 'GET')({ AppId: 'app1', RoomId: 'room1', TaskId: 'q2' })) as { Result: { PlaceInLine?: number } };
      assert.equal(events.Result.PlaceInLine, 2, 'its place among the tasks no worker took yet');
    } finally {
      await lonely.close();
    }
  });

  it('lists the cluster’s nodes to a key allowed every AppId, from any node and with `webcast nodes`', async () => {
    const list = sdkClient(a.host).api('ListWebcastNodes', 'GET');
    let nodes: { NodeId: string; Role: string; HeartbeatAt: number }[] = [];
    const deadline = Date.now() + 10_000;
    while (nodes.length < 2 && Date.now() < deadline) {
      nodes = ((await list({})) as { Result: { Nodes: typeof nodes } }).Result.Nodes;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(nodes.length, 2);
    assert.ok(nodes.every((n) => n.Role === 'api' && Date.now() - n.HeartbeatAt < 10_000));
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'src/cli/bin.ts', 'nodes'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, WEBCAST_ENDPOINT: b.url, WEBCAST_ACCESS_KEY: ACCESS_KEY, WEBCAST_SECRET_KEY: SECRET_KEY },
    });
    assert.match(stdout, /^NODE\s+ROLE\s+ADDRESS\s+TASKS\s+HEARTBEAT\s+STATE$/m);
    for (const n of nodes) assert.match(stdout, new RegExp(`^${n.NodeId}\\s+api\\s+.*\\s+up$`, 'm'));
  });

  it('loses no callback when the node delivering them dies while the endpoint fails: another node delivers every event', async () => {
    const receiver = new CallbackReceiver();
    const url = await receiver.listen();
    const dirs = [0, 1].map(() => mkdtempSync(path.join(tmpdir(), 'webcast-api-')));
    const env = { WEBCAST_DATABASE_URL: await pg.newDatabase(), WEBCAST_WORKER: 'false', WEBCAST_ACCESS_KEY: ACCESS_KEY, WEBCAST_SECRET_KEY: SECRET_KEY, WEBCAST_CALLBACK_URL: url, WEBCAST_CALLBACK_SECRET: 'cb-secret' };
    const nodes = await Promise.all(dirs.map((d) => spawnService({ ...env, WEBCAST_DATA_DIR: d })));
    try {
      // The endpoint fails the first attempt; the deliverer is killed right after it.
      receiver.failNext = [503];
      for (let i = 0; i < 4; i++) {
        const key = { AppId: 'app1', RoomId: 'cb', TaskId: `cb${i}` };
        const via = nodes[i % 2];
        assert.ok(via);
        assert.equal((await sdkClient(via.host).start(validStart(key))).Result, 'ok');
        assert.equal((await sdkClient(via.host).stop(key)).Result, 'ok');
      }
      await waitFor('the first, failed, attempt', async () => receiver.received.length >= 1, 10_000, 20);
      const holder = (await pg.query<{ application_name: string }>(
        `SELECT a.application_name FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid WHERE l.locktype = 'advisory' AND l.granted AND a.application_name LIKE $1
           AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
        [`${DELIVERER_PREFIX}%`],
        env.WEBCAST_DATABASE_URL,
      ))[0]?.application_name.slice(DELIVERER_PREFIX.length);
      const i = dirs.findIndex((d) => readFileSync(path.join(d, 'node-id'), 'utf8').trim() === holder);
      assert.ok(i >= 0, `the deliverer ${holder} is one of the two nodes`);
      await nodes[i]?.stop('SIGKILL');

      const events = await pg.query<{ event_id: string }>('SELECT event_id FROM callbacks ORDER BY id', [], env.WEBCAST_DATABASE_URL);
      assert.equal(events.length, 4, 'a WebcastEnd for each task');
      // The survivor takes over: it delivers what the dead node had not recorded as delivered.
      await waitFor('every event delivered', async () =>
        (await pg.query<{ state: string }>('SELECT state FROM callbacks', [], env.WEBCAST_DATABASE_URL)).every((r) => r.state === 'delivered'), 20_000);
      assert.ok(events.every((e) => receiver.received.some((r) => r.EventId === e.event_id)), 'every event reached the endpoint');
      assert.ok(receiver.received.every((r) => receiver.signatureValid(r, 'cb-secret')));
    } finally {
      await Promise.all(nodes.map((n) => n.stop('SIGKILL')));
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
      await receiver.close();
    }
  });
});
