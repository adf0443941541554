import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { EmbeddedJanus } from '../../src/rooms/janus/embedded-janus.js';
import { JanusRoomBackend } from '../../src/rooms/janus/janus-rooms.js';
import { ACCESS_KEY, SECRET_KEY, getTask, sdkClient, startTestNode, waitFor, type TestNode } from '../helpers/node.js';
import { PAGE_COLOR, startPageServer, type PageServer } from '../helpers/pages.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { spawnService, type ServiceProcess } from '../helpers/process.js';
import { CallbackReceiver } from '../helpers/receiver.js';
import { Subscriber } from '../helpers/subscriber.js';

/**
 * Several nodes on one real PostgreSQL and one real Janus: API-only nodes in this process,
 * workers as service processes of their own (so that one can be SIGKILLed), each with its own
 * Chromium. A real subscriber checks what reaches the room.
 */

const SIZE = { Width: 320, Height: 180, FrameRate: 10 };
const LEASE_SECONDS = 3;
const near = (a: readonly number[], b: readonly number[], tolerance = 24): boolean => a.every((v, i) => Math.abs(v - (b[i] ?? 0)) <= tolerance);

describe('a cluster of nodes on one PostgreSQL and one Janus', { timeout: 300_000 }, () => {
  let pg: TestPostgres;
  let janus: EmbeddedJanus;
  let janusDir: string;
  let rooms: JanusRoomBackend;
  let pages: PageServer;
  let receiver: CallbackReceiver;
  let api: TestNode;
  const workers: { svc: ServiceProcess; dataDir: string; nodeId: string }[] = [];
  const subscribers: Subscriber[] = [];
  const secret = 'cluster-test-callback-secret';
  const clusterEnv = () => ({
    WEBCAST_DATABASE_URL: pg.url,
    WEBCAST_JANUS_URL: janus.urls.wsUrl,
    WEBCAST_LEASE_SECONDS: String(LEASE_SECONDS),
    WEBCAST_URL_ALLOWLIST: '127.0.0.1',
    WEBCAST_CALLBACK_URL: receiver.url,
    WEBCAST_CALLBACK_SECRET: secret,
  });

  const startWorker = async (maxTasks: number) => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'webcast-worker-'));
    const svc = await spawnService({ ...clusterEnv(), WEBCAST_DATA_DIR: dataDir, WEBCAST_WORKER: 'true', WEBCAST_MAX_TASKS: String(maxTasks), WEBCAST_ACCESS_KEY: ACCESS_KEY, WEBCAST_SECRET_KEY: SECRET_KEY, WEBCAST_BROWSER_POOL: '0' }, 60_000);
    const w = { svc, dataDir, nodeId: readFileSync(path.join(dataDir, 'node-id'), 'utf8').trim() };
    workers.push(w);
    return w;
  };
  const ownerOf = async (TaskId: string) => (await pg.query<{ owner: string }>('SELECT owner FROM tasks WHERE task_id = $1', [TaskId]))[0]?.owner;
  const start = async (host: string, TaskId: string, UserId = `u-${TaskId}`) =>
    sdkClient(host).start({ AppId: 'app1', RoomId: `room-${TaskId}`, TaskId, UserId, SourceURL: `${pages.url}/tone`, VideoSolutions: [SIZE] });
  const keyOf = (TaskId: string) => ({ AppId: 'app1', RoomId: `room-${TaskId}`, TaskId });
  const watch = async (TaskId: string, UserId = `u-${TaskId}`) => {
    const s = await Subscriber.join(rooms, { appId: 'app1', roomId: `room-${TaskId}` }, UserId);
    subscribers.push(s);
    return s;
  };

  before(async () => {
    pg = await startPostgres();
    janusDir = mkdtempSync(path.join(tmpdir(), 'webcast-janus-'));
    janus = new EmbeddedJanus({ dataDir: janusDir, log: pino({ level: 'silent' }) });
    await janus.start();
    rooms = await JanusRoomBackend.connect(janus.urls.wsUrl, pino({ level: 'silent' }));
    pages = await startPageServer();
    receiver = new CallbackReceiver();
    await receiver.listen();
    api = await startTestNode({ env: { ...clusterEnv(), WEBCAST_WORKER: 'false' } });
  });
  after(async () => {
    await Promise.all(subscribers.map((s) => s.leave().catch(() => undefined)));
    await Promise.all(workers.map((w) => w.svc.stop('SIGKILL')));
    for (const w of workers) rmSync(w.dataDir, { recursive: true, force: true });
    await api.close();
    await rooms.close();
    await janus.stop();
    rmSync(janusDir, { recursive: true, force: true });
    await receiver.close();
    await pages.close();
    await pg.stop();
  });

  it('refuses a worker with an embedded Janus in a cluster, saying what to set', async () => {
    const { loadConfig } = await import('../../src/config.js');
    assert.throws(() => loadConfig({ WEBCAST_DATABASE_URL: pg.url, WEBCAST_WORKER: 'true' }), /WEBCAST_JANUS_URL/);
    assert.throws(() => loadConfig({ WEBCAST_DATABASE_URL: 'mysql://x/y', WEBCAST_WORKER: 'false' }), /postgres:\/\//);
  });

  it('puts a task started through an API-only node on air from a worker, and a Stop through another node takes it off', async () => {
    const w1 = await startWorker(2);
    const t0 = Date.now();
    assert.equal((await start(api.host, 'c1')).Result, 'ok');
    const running = await waitFor('Status 2', async () => (await getTask(api.host, keyOf('c1')))?.Status === 2, 30_000);
    assert.ok(running);
    assert.equal(await ownerOf('c1'), w1.nodeId);
    const s = await watch('c1');
    const v = await s.waitForVideo((x) => x.framesDecoded > 5, 20_000);
    assert.ok(near(await s.pixel(0.5, 0.5), PAGE_COLOR), 'the page reaches the room');
    assert.ok(v.width > 0);
    console.log(`# cluster: API-only Start → Status 2 in ${Date.now() - t0} ms`);

    // Stop through the worker's own API (another node than the one that took the Start).
    const stopAt = Date.now();
    assert.equal((await sdkClient(w1.svc.host).stop(keyOf('c1'))).Result, 'ok');
    await waitFor('the publisher gone', async () => (await rooms.publishers({ appId: 'app1', roomId: 'room-c1' })).length === 0, 5000, 50);
    const gone = Date.now() - stopAt;
    assert.ok(gone < 2000, `the publisher left ${gone} ms after the Stop`);
    assert.equal((await getTask(api.host, keyOf('c1')))?.Status, 3);
  });

  it('makes one task of concurrent Starts of one TaskId through two nodes', async () => {
    const results = await Promise.all([start(api.host, 'c2'), start(workers[0]?.svc.host ?? '', 'c2'), start(api.host, 'c2')]);
    // One started it; the others get the API's answer to a repeated Start of an active task.
    assert.deepEqual(results.map((r) => r.Result).sort(), ['The task has been started. Please do not call the startup task interface repeatedly', 'The task has been started. Please do not call the startup task interface repeatedly', 'ok'].sort());
    const rows = await pg.query('SELECT * FROM tasks WHERE task_id = $1', ['c2']);
    assert.equal(rows.length, 1);
    await waitFor('Status 2', async () => (await getTask(api.host, keyOf('c2')))?.Status === 2, 30_000);
    assert.equal((await rooms.publishers({ appId: 'app1', roomId: 'room-c2' })).length, 1);
    await sdkClient(api.host).stop(keyOf('c2'));
  });

  /** Frames at a new viewer: joins as soon as the task's UserId publishes again, until frames decode. */
  const framesAgain = async (TaskId: string, since: number, timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (Date.now() > deadline) throw new Error(`no frames of ${TaskId} within ${timeoutMs} ms`);
      try {
        const s = await watch(TaskId);
        await s.waitForVideo((x) => x.framesDecoded > 0, 3000);
        return Date.now() - since;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };

  it('puts a SIGKILLed worker’s task back on air from another worker: same task, same StartTime, a NodeLost reschedule', async () => {
    const w2 = await startWorker(2);
    assert.equal((await start(api.host, 'c3')).Result, 'ok');
    await waitFor('Status 2', async () => (await getTask(api.host, keyOf('c3')))?.Status === 2, 30_000);
    const before = await getTask(api.host, keyOf('c3'));
    const ownerId = await ownerOf('c3');
    const victim = workers.find((w) => w.nodeId === ownerId);
    const survivor = [workers[0], w2].find((w) => w && w.nodeId !== ownerId);
    assert.ok(victim && survivor, `owner ${ownerId}`);
    await (await watch('c3')).waitForVideo((x) => x.framesDecoded > 0, 15_000);

    const killedAt = Date.now();
    await victim.svc.stop('SIGKILL');
    const seconds = (await framesAgain('c3', killedAt)) / 1000;
    console.log(`# cluster: SIGKILL of the owner → frames at a new viewer after ${seconds.toFixed(1)} s`);
    assert.ok(seconds < 20, `frames again after ${seconds} s`);
    assert.equal(await ownerOf('c3'), survivor.nodeId);
    const after = await getTask(api.host, keyOf('c3'));
    assert.deepEqual([after?.Status, after?.StartTime, after?.UserId], [2, before?.StartTime, before?.UserId]);
    const reschedule = await waitFor('the reschedule callback', async () =>
      receiver.events().find((e) => e.data.TaskId === 'c3' && e.EventType === 'WebcastReschedule'), 10_000);
    assert.equal(reschedule.data.Reason, 'NodeLost');
    assert.equal(reschedule.data.Status, 5);
    assert.equal((await rooms.publishers({ appId: 'app1', roomId: 'room-c3' })).length, 1, 'one publisher: the dead node’s is gone');
  });

  it('hands a drained worker’s task to another with a short gap: the new publisher replaces the old in the room', async () => {
    const ownerId = await ownerOf('c3');
    const draining = workers.find((w) => w.nodeId === ownerId);
    assert.ok(draining);
    const other = await startWorker(2);
    const s = await watch('c3');
    await s.waitForVideo((x) => x.framesDecoded > 0, 15_000);
    const termAt = Date.now();
    const exited = draining.svc.stop('SIGTERM');
    // The old publisher stays until the new one replaces it: a viewer's last frame from it and
    // the first from the new one are what the gap is.
    const lastOld = await s.lastFrameAt(30_000);
    const gapFrom = Math.max(lastOld, termAt);
    const firstNew = termAt + (await framesAgain('c3', termAt));
    const gap = firstNew - gapFrom;
    console.log(`# cluster: drain → new publisher after ${((firstNew - termAt) / 1000).toFixed(1)} s, viewer gap ${gap} ms`);
    assert.equal(await exited, 0, draining.svc.output().split('\n').filter((l) => /"level":[56]0/.test(l)).join('\n'));
    assert.equal(await ownerOf('c3'), other.nodeId);
    assert.ok(gap < 8000, `a gap of ${gap} ms`);
    const reschedules = receiver.events().filter((e) => e.data.TaskId === 'c3' && e.EventType === 'WebcastReschedule').map((e) => e.data.Reason);
    assert.deepEqual(reschedules, ['NodeLost', 'NodeDrained']);
  });
});
