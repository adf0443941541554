import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PostgresTaskStore } from '../../src/store/postgres-task-store.js';
import { EventType, pageEvent } from '../../src/tasks/events.js';
import { newTask, transition } from '../../src/tasks/state-machine.js';
import { parseStartWebcast } from '../../src/tasks/validation.js';
import { StopReason, TaskStatus, type TaskKey } from '../../src/tasks/types.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';

/** What nodes sharing one PostgreSQL rely on: claims, leases, fencing, announcements, one deliverer. */

const task = (TaskId: string, now: number) =>
  newTask(parseStartWebcast({ AppId: 'a', RoomId: 'r', TaskId, UserId: 'u', SourceURL: 'https://example.com', VideoSolutions: [{ Width: 640, Height: 360 }] }), now);
const key = (TaskId: string): TaskKey => ({ AppId: 'a', RoomId: 'r', TaskId });
const LEASE = 10_000;

describe('the PostgreSQL store of a cluster', () => {
  let server: TestPostgres;
  let a: PostgresTaskStore;
  let b: PostgresTaskStore;
  let url: string;
  /** What B heard announced. */
  const heard: string[] = [];
  before(async () => {
    server = await startPostgres();
    url = await server.newDatabase();
    [a, b] = await Promise.all([PostgresTaskStore.open({ url }), PostgresTaskStore.open({ url })]);
    // Listening is what makes a node alive to the others.
    await a.listen('A', () => undefined);
    await b.listen('B', (x) => (x.kind === 'drain' ? heard.push(`drain ${x.nodeId}`) : x.key.TaskId && heard.push(`${x.kind} ${x.key.TaskId}`)));
  });
  after(async () => {
    await a.close();
    await b.close();
    await server.stop();
  });

  it('lets two workers claim at once without taking the same task, oldest first', async () => {
    for (let i = 0; i < 10; i++) await a.create(task(`c${i}`, 1000 + i), 0);
    assert.deepEqual(await a.unclaimed(0), Array.from({ length: 10 }, (_, i) => key(`c${i}`)));
    const [ca, cb] = await Promise.all([a.claim('A', 6, 5000, 5000 + LEASE, false), b.claim('B', 6, 5000, 5000 + LEASE, false)]);
    const ids = [...ca, ...cb].map((c) => c.task.TaskId);
    assert.equal(ids.length, 10);
    assert.equal(new Set(ids).size, 10, 'no task claimed twice');
    for (const c of [...ca, ...cb]) assert.deepEqual([c.epoch, c.previousOwner, c.handedOver], [1, '', false]);
    assert.deepEqual(await a.unclaimed(0), []);
    assert.deepEqual(await a.claim('C', 5, 5000, 5000 + LEASE, false), [], 'nothing left while the leases run');
  });

  it('renews a worker’s leases; once they run out another worker takes its tasks with a new epoch, and the old one can no longer write', async () => {
    const mine = (await a.renewLeases('A', 9000 + LEASE)).sort((x, y) => x.key.TaskId.localeCompare(y.key.TaskId));
    assert.ok(mine.length > 0);
    const first = mine[0];
    assert.ok(first);
    // A stops renewing, B goes on; at 9000 + LEASE + 1 A's leases have run out.
    await b.renewLeases('B', 9000 + 2 * LEASE);
    const taken = await b.claim('B', 20, 9000 + LEASE + 1, 9000 + 2 * LEASE, false);
    assert.deepEqual(taken.map((c) => c.task.TaskId).sort(), mine.map((l) => l.key.TaskId));
    for (const c of taken) assert.deepEqual([c.epoch, c.previousOwner, c.handedOver], [2, 'A', false]);
    // A's writes are fenced off: its update, its event, its renewal.
    assert.equal(await a.updateFenced(first, 'A', (t) => transition(t, { type: 'published' }, 20_000)), undefined);
    assert.equal(await a.recordEventFenced(first, 'A', pageEvent(EventType.Refresh, task(first.key.TaskId, 1000), 20_000, 'blank')), false);
    assert.deepEqual(await a.renewLeases('A', 30_000), []);
    assert.equal((await a.get(first.key))?.Status, TaskStatus.NotStarted);
    // B, which holds it now, writes.
    const lease = { key: first.key, epoch: 2 };
    assert.equal((await b.updateFenced(lease, 'B', (t) => transition(t, { type: 'published' }, 20_000)))?.Status, TaskStatus.Running);
    assert.equal(await b.recordEventFenced(lease, 'B', pageEvent(EventType.Refresh, task(first.key.TaskId, 1000), 20_001, 'blank')), true);
  });

  it('hands a task over when its worker gives it up, and a restarted worker reclaims its own', async () => {
    const held = await b.renewLeases('B', 40_000);
    const one = held[0];
    assert.ok(one);
    await b.releaseLease(one);
    // B's next heartbeat, before A claims: what B gave up stays given up.
    const renewed = await b.renewLeases('B', 45_000);
    assert.ok(!renewed.some((l) => l.key.TaskId === one.key.TaskId), 'a heartbeat renewed the lease B had given up');
    const [c] = await a.claim('A', 1, 21_000, 31_000, false);
    assert.deepEqual([c?.task.TaskId, c?.previousOwner, c?.handedOver, c?.epoch], [one.key.TaskId, 'B', true, one.epoch + 1]);
    // B restarts: its other tasks are still leased to it, and it takes them back at once.
    const back = await b.claim('B', 20, 21_000, 31_000, true);
    assert.deepEqual(back.map((x) => x.task.TaskId).sort(), held.slice(1).map((l) => l.key.TaskId).sort());
    assert.ok(back.every((x) => x.previousOwner === 'B'));
  });

  it('stops renewing a task that ended, wherever it was stopped', async () => {
    const held = await a.renewLeases('A', 50_000);
    const one = held[0];
    assert.ok(one);
    await b.update(one.key, (t) => transition(t, { type: 'ended', reason: StopReason.StopByAPI }, 22_000));
    assert.ok(!(await a.renewLeases('A', 50_000)).some((l) => l.key.TaskId === one.key.TaskId));
  });

  it('announces new and stopped tasks, and drains, to every node', async () => {
    await a.announce({ kind: 'task', key: key('n1') });
    await a.announce({ kind: 'stop', key: key('n2') });
    await a.announce({ kind: 'drain', nodeId: 'B' });
    const deadline = Date.now() + 5000;
    while (heard.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(heard, ['task n1', 'stop n2', 'drain B']);
  });

  it('lets a worker take the tasks of a node killed outright at once, without waiting for its lease', async () => {
    const c = await PostgresTaskStore.open({ url });
    await c.listen('C', () => undefined);
    await c.create(task('k1', 30_000), 0);
    const [mine] = await c.claim('C', 1, 30_000, 30_000 + LEASE, false);
    assert.equal(mine?.task.TaskId, 'k1');
    assert.deepEqual(await b.claim('B', 5, 30_001, 30_001 + LEASE, false), [], 'C lives and holds its lease');
    await c.close(); // its sessions end, as when the kernel closes a killed process's sockets
    const deadline = Date.now() + 5000;
    let taken: Awaited<ReturnType<PostgresTaskStore['claim']>> = [];
    while (taken.length === 0 && Date.now() < deadline) taken = await b.claim('B', 5, 30_002, 30_002 + LEASE, false);
    assert.deepEqual(taken.map((x) => [x.task.TaskId, x.previousOwner, x.handedOver]), [['k1', 'C', false]]);
  });

  it('registers nodes and lists the live ones', async () => {
    const node = (nodeId: string, heartbeatAt: number) => ({ nodeId, role: 'worker' as const, address: `${nodeId}:8080`, capacity: 4, running: 1, draining: false, startedAt: 1, heartbeatAt });
    await a.heartbeat(node('old', 1000));
    await b.heartbeat(node('B', 100_000));
    const seen = await b.liveNodes(95_000);
    assert.deepEqual(seen.map((n) => n.nodeId), ['B']);
    assert.deepEqual(seen[0], node('B', 100_000));
  });

  it('lets one node at a time deliver callbacks, and another take over when it is gone', async () => {
    assert.ok((await a.dueCallbacks(Number.MAX_SAFE_INTEGER, 100, 100)).length > 0, 'A delivers');
    assert.deepEqual(await b.dueCallbacks(Number.MAX_SAFE_INTEGER, 100, 100), [], 'B waits while A delivers');
    await a.close();
    assert.ok((await b.dueCallbacks(Number.MAX_SAFE_INTEGER, 100, 100)).length > 0, 'B delivers once A is gone');
    a = await PostgresTaskStore.open({ url });
  });
});
