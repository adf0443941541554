import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { mountsUnder } from '../../src/capture/browser-mounts.js';
import { nodeKey } from '../../src/capture/cloud-browser.js';
import { JanusRoomBackend } from '../../src/rooms/janus/janus-rooms.js';
import { startCluster, type TestCluster, type TestWorker } from '../helpers/cluster.js';
import { ACCESS_KEY, SECRET_KEY, getTask, sdkClient, startTestNode, waitFor, type TestNode } from '../helpers/node.js';
import { PAGE_COLOR, near, startPageServer, type PageServer } from '../helpers/pages.js';
import { CallbackReceiver } from '../helpers/receiver.js';

/**
 * Several nodes on one real PostgreSQL and one real Janus: API-only nodes in this process,
 * workers as service processes of their own (so that one can be SIGKILLed), each with its own
 * Chromium. A real subscriber checks what reaches the room.
 */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const run = promisify(execFile);
const SIZE = { Width: 320, Height: 180, FrameRate: 10 };
const LEASE_SECONDS = 3;

/** Task cgroups whose names start with `prefix`, in any controller's tree, a few levels deep. */
function cgroupsNamed(prefix: string, dir = '/sys/fs/cgroup', depth = 3): string[] {
  if (depth < 0 || !existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).flatMap((e) =>
    e.name.startsWith(prefix) ? [path.join(dir, e.name)] : cgroupsNamed(prefix, path.join(dir, e.name), depth - 1));
}
describe('a cluster of nodes on one PostgreSQL and one Janus', { timeout: 300_000 }, () => {
  let c: TestCluster;
  let pages: PageServer;
  let receiver: CallbackReceiver;
  let api: TestNode;
  const secret = 'cluster-test-callback-secret';
  const startWorker = (maxTasks: number) => c.startWorker(maxTasks, { WEBCAST_URL_ALLOWLIST: '127.0.0.1' });
  const ownerOf = (TaskId: string) => c.ownerOf(TaskId);
  const start = async (host: string, TaskId: string, UserId = `u-${TaskId}`) =>
    sdkClient(host).start({ AppId: 'app1', RoomId: `room-${TaskId}`, TaskId, UserId, SourceURL: `${pages.url}/tone`, VideoSolutions: [SIZE] });
  const keyOf = (TaskId: string) => ({ AppId: 'app1', RoomId: `room-${TaskId}`, TaskId });
  const watch = (TaskId: string) => c.watch('app1', `room-${TaskId}`, `u-${TaskId}`);
  const listNodes = async () => ((await sdkClient(api.host).api('ListWebcastNodes', 'GET')({})) as { Result: { Nodes: { NodeId: string; Draining: boolean; Running: number }[] } }).Result.Nodes;
  const framesAgain = (TaskId: string, since: number) => c.framesAgain('app1', `room-${TaskId}`, `u-${TaskId}`, since);
  let killed: TestWorker | undefined;

  before(async () => {
    pages = await startPageServer();
    receiver = new CallbackReceiver();
    await receiver.listen();
    c = await startCluster({ WEBCAST_LEASE_SECONDS: String(LEASE_SECONDS), WEBCAST_CALLBACK_URL: receiver.url, WEBCAST_CALLBACK_SECRET: secret });
    api = await startTestNode({ env: { ...c.env, WEBCAST_WORKER: 'false' } });
  });
  after(async () => {
    // Tasks still on air would make each stopping worker wait for a successor (see close()).
    for (const id of ['s1', 's2', 'c3']) await sdkClient(api.host).stop(keyOf(id)).catch(() => undefined);
    await waitFor('no task on air', async () => (await listNodes()).every((n) => n.Running === 0), 15_000).catch(() => undefined);
    await api.close();
    await c.close();
    await receiver.close();
    await pages.close();
  });

  it('refuses a worker with an embedded Janus in a cluster, saying what to set', async () => {
    const { loadConfig } = await import('../../src/config.js');
    assert.throws(() => loadConfig({ WEBCAST_DATABASE_URL: c.pg.url, WEBCAST_WORKER: 'true' }), /WEBCAST_JANUS_URL/);
    assert.throws(() => loadConfig({ WEBCAST_DATABASE_URL: 'mysql://x/y', WEBCAST_WORKER: 'false' }), /postgres:\/\//);
  });

  it('protects the shared Janus with its API secret: a request without it is refused', async () => {
    await assert.rejects(async () => {
      const stranger = await JanusRoomBackend.connect(c.janus.urls.wsUrl, pino({ level: 'silent' }));
      await stranger.close();
    }, /unauthorized|secret/i);
    const wrong = JanusRoomBackend.connect(c.janus.urls.wsUrl, pino({ level: 'silent' }), 'not-the-secret');
    await assert.rejects(wrong, /unauthorized|secret/i);
  });

  it('puts a task started through an API-only node on air from a worker, and a Stop through another node takes it off', async () => {
    const w1 = await startWorker(2);
    const t0 = Date.now();
    assert.equal((await start(api.host, 'c1')).Result, 'ok');
    // The worker claims it within about 100 ms of the write (woken by NOTIFY, not its 1 s poll).
    const written = Date.now();
    await waitFor('the claim', async () => (await ownerOf('c1')) === w1.nodeId, 5000, 5);
    const claimMs = Date.now() - written;
    console.log(`# cluster: Start answered → claimed by the worker in ${claimMs} ms`);
    assert.ok(claimMs < 500, `claimed after ${claimMs} ms`);
    const running = await waitFor('Status 2', async () => (await getTask(api.host, keyOf('c1')))?.Status === 2, 30_000);
    assert.ok(running);
    const s = await watch('c1');
    const v = await s.waitForVideo((x) => x.framesDecoded > 5, 20_000);
    assert.ok(near(await s.pixel(0.5, 0.5), PAGE_COLOR, 24), 'the page reaches the room');
    assert.ok(v.width > 0);
    console.log(`# cluster: API-only Start → Status 2 in ${Date.now() - t0} ms`);
    const events = (await sdkClient(api.host).api('ListWebcastTaskEvents', 'GET')(keyOf('c1'))) as { Result: { Node?: string } };
    assert.equal(events.Result.Node, w1.nodeId, 'the node that runs it');

    // Stop through the worker's own API (another node than the one that took the Start).
    const stopAt = Date.now();
    assert.equal((await sdkClient(w1.svc.host).stop(keyOf('c1'))).Result, 'ok');
    await waitFor('the publisher gone', async () => (await c.rooms.publishers({ appId: 'app1', roomId: 'room-c1' })).length === 0, 5000, 50);
    const gone = Date.now() - stopAt;
    console.log(`# cluster: Stop through another node → publisher gone after ${gone} ms`);
    assert.ok(gone < 2000, `the publisher left ${gone} ms after the Stop`);
    assert.equal((await getTask(api.host, keyOf('c1')))?.Status, 3);
  });

  it('makes one task of concurrent Starts of one TaskId through two nodes', async () => {
    const results = await Promise.all([start(api.host, 'c2'), start(c.workers[0]?.svc.host ?? '', 'c2'), start(api.host, 'c2')]);
    // One started it; the others get the API's answer to a repeated Start of an active task.
    assert.deepEqual(results.map((r) => r.Result).sort(), ['The task has been started. Please do not call the startup task interface repeatedly', 'The task has been started. Please do not call the startup task interface repeatedly', 'ok'].sort());
    const rows = await c.pg.query('SELECT * FROM tasks WHERE task_id = $1', ['c2']);
    assert.equal(rows.length, 1);
    await waitFor('Status 2', async () => (await getTask(api.host, keyOf('c2')))?.Status === 2, 30_000);
    assert.equal((await c.rooms.publishers({ appId: 'app1', roomId: 'room-c2' })).length, 1);
    await sdkClient(api.host).stop(keyOf('c2'));
  });

  it('puts a SIGKILLed worker’s task back on air from another worker: same task, same StartTime, a NodeLost reschedule', async () => {
    const w2 = await startWorker(2);
    assert.equal((await start(api.host, 'c3')).Result, 'ok');
    await waitFor('Status 2', async () => (await getTask(api.host, keyOf('c3')))?.Status === 2, 30_000);
    const before = await getTask(api.host, keyOf('c3'));
    const ownerId = await ownerOf('c3');
    const victim = c.workers.find((w) => w.nodeId === ownerId);
    const survivor = [c.workers[0], w2].find((w) => w && w.nodeId !== ownerId);
    assert.ok(victim && survivor, `owner ${ownerId}`);
    await (await watch('c3')).waitForVideo((x) => x.framesDecoded > 0, 15_000);

    const killedAt = Date.now();
    await victim.svc.stop('SIGKILL');
    killed = victim;
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
    assert.equal((await c.rooms.publishers({ appId: 'app1', roomId: 'room-c3' })).length, 1, 'one publisher: the dead node’s is gone');
  });

  it('hands a drained worker’s task to another with a short gap: the new publisher replaces the old in the room', async () => {
    const ownerId = await ownerOf('c3');
    const draining = c.workers.find((w) => w.nodeId === ownerId);
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

  it('spreads a burst of Starts over the workers with room, rather than filling one', async () => {
    await sdkClient(api.host).stop(keyOf('c3'));
    const live = c.workers.filter((w) => w.svc.child.exitCode === null && w.svc.child.signalCode === null);
    assert.equal(live.length, 1, JSON.stringify(c.workers.map((w) => [w.nodeId, w.svc.child.exitCode, w.svc.child.signalCode])));
    const fresh = await startWorker(2);
    // Both workers empty, as the cluster knows them (heartbeats): until the first has closed c3
    // and said so, it is rightly the fuller one, and both Starts may rightly go to the new one.
    await waitFor('both workers empty', async () => {
      const nodes = (await listNodes()).filter((n) => n.NodeId === fresh.nodeId || n.NodeId === live[0]?.nodeId);
      return nodes.length === 2 && nodes.every((n) => n.Running === 0);
    }, 15_000);
    const results = await Promise.all(['s1', 's2'].map((id) => start(api.host, id)));
    assert.deepEqual(results.map((r) => r.Result), ['ok', 'ok']);
    await waitFor('both on air', async () => (await Promise.all(['s1', 's2'].map(async (id) => (await getTask(api.host, keyOf(id)))?.Status))).every((s) => s === 2), 30_000);
    const owners = await Promise.all(['s1', 's2'].map(ownerOf));
    const claims = () => [fresh, live[0]].map((w) => `${w === fresh ? 'new' : 'older'}: ${w?.svc.output().split('\n').filter((l) => /room-s[12]\//.test(l) && /claim|took/.test(l)).join('\n')}`).join('\n');
    assert.notEqual(owners[0], owners[1], `one on each worker (both on the ${owners[0] === fresh.nodeId ? 'new' : 'older'} one)\n${claims()}`);
  });

  it('drains a worker on command (`webcast drain NODE` through another node): its task moves, it stays up and says it drains', async () => {
    const ownerId = await ownerOf('s1');
    const other = c.workers.find((w) => w.nodeId !== ownerId && w.svc.child.exitCode === null && w.svc.child.signalCode === null);
    assert.ok(ownerId && other);
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'src/cli/bin.ts', 'drain', ownerId], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, WEBCAST_ENDPOINT: api.url, WEBCAST_ACCESS_KEY: ACCESS_KEY, WEBCAST_SECRET_KEY: SECRET_KEY },
    });
    assert.match(stdout, new RegExp(`node ${ownerId} drains`));
    const drainedWorker = c.workers.find((w) => w.nodeId === ownerId);
    await waitFor('the task on another worker', async () => {
      const now = await ownerOf('s1');
      return now !== undefined && now !== '' && now !== ownerId;
    }, 20_000).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n${drainedWorker?.svc.output().split('\n').filter((l) => /drain|hand|cluster/.test(l)).join('\n') ?? ''}`);
    });
    await framesAgain('s1', Date.now());
    const drained = await waitFor('the drained node idle', async () => {
      const n = (await listNodes()).find((x) => x.NodeId === ownerId);
      return n && n.Running === 0 && n;
    }, 30_000);
    const nodes = await listNodes();
    assert.equal(drained.Draining, true);
    assert.ok(nodes.some((n) => n.NodeId === other.nodeId && !n.Draining));
    const reasons = receiver.events().filter((e) => e.data.TaskId === 's1' && e.EventType === 'WebcastReschedule').map((e) => e.data.Reason);
    assert.deepEqual(reasons, ['NodeDrained']);
    // Draining a node that only answers the API, or one that is not there, says why.
    const refused = await sdkClient(api.host).api('DrainWebcastNode', 'POST')({ NodeId: 'no-such-node' });
    assert.match(JSON.stringify(refused.ResponseMetadata.Error), /no live node no-such-node/);
  });

  it('clears what a SIGKILLed worker’s browsers left when it starts again on its data folder: their folders in memory and their cgroups', async () => {
    assert.ok(killed, 'the SIGKILL test ran');
    const key = nodeKey(killed.dataDir);
    const root = path.join(tmpdir(), `webcast-browsers-${key}`);
    const leftMounts = mountsUnder(root);
    const leftGroups = cgroupsNamed(`webcast-${key}-`);
    // What this test is about: a kill leaves them (a task's browser and a spare).
    assert.ok(leftMounts.length > 0, `nothing mounted under ${root} after the kill`);
    await c.restartWorker(killed);
    const stillThere = mountsUnder(root).filter((m) => leftMounts.includes(m));
    assert.deepEqual(stillThere, [], 'the killed run’s browser folders are unmounted');
    assert.deepEqual(leftMounts.filter((m) => existsSync(m)), [], 'and removed');
    assert.deepEqual(leftGroups.filter((g) => existsSync(g)), [], 'its cgroups are gone');
  });
});
