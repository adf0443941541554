import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { SqliteTaskStore } from '../../src/store/sqlite-task-store.js';
import { PostgresTaskStore } from '../../src/store/postgres-task-store.js';
import { postgresMigrations, sqliteMigrations } from '../../src/store/migrations.js';
import { pageEvent, EventType } from '../../src/tasks/events.js';
import type { TaskStore } from '../../src/tasks/ports.js';
import { newTask, transition } from '../../src/tasks/state-machine.js';
import { parseStartWebcast } from '../../src/tasks/validation.js';
import { StopReason, TaskStatus, type TaskKey } from '../../src/tasks/types.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';

/**
 * One contract for every TaskStore: what the task core relies on holds for SQLite (one node)
 * and PostgreSQL (several). "Two nodes" are two stores open on one database at once.
 */

const task = (TaskId: string, now: number, over: Record<string, unknown> = {}) =>
  newTask(parseStartWebcast({ AppId: 'a', RoomId: 'r', TaskId, UserId: 'u', SourceURL: 'https://example.com', VideoSolutions: [{ Width: 640, Height: 360 }], ...over }), now);
const key = (TaskId: string, over: Partial<TaskKey> = {}): TaskKey => ({ AppId: 'a', RoomId: 'r', TaskId, ...over });

interface Backend {
  /** A store on a database no other test has used. */
  fresh(): Promise<{ open(): Promise<TaskStore>; versions(): Promise<number[]> }>;
  expectedVersions: number[];
}

function contract(name: string, backend: () => Backend): void {
  describe(`the ${name} task store`, () => {
    let store: TaskStore;
    let db: Awaited<ReturnType<Backend['fresh']>>;
    before(async () => {
      db = await backend().fresh();
      store = await db.open();
    });
    after(() => store.close());

    it('creates its schema once, records the version, and opens again on it', async () => {
      const again = await db.open();
      await again.close();
      assert.deepEqual(await db.versions(), backend().expectedVersions);
    });

    it('stores a task and reads back every field', async () => {
      const t = task('t1', 1000, { MonitorConfig: { BlankCheckInterval: 5 }, EventNotifyConfig: { EnableEventNotify: true, StartTimeout: 3 }, BusinessId: '业务', SourceURL: 'https://example.com/页?a=1&b=😀' });
      assert.deepEqual(await store.create(t, 0), { created: true, task: t });
      assert.deepEqual(await store.get(t), t);
    });

    it('keeps a key taken while its task is active or recent, and frees it after', async () => {
      const dup = await store.create(task('t1', 2000), 0);
      assert.equal(dup.created, false);
      await store.update(key('t1'), (t) => transition(t, { type: 'ended', reason: StopReason.StopByAPI }, 3000));
      assert.equal((await store.create(task('t1', 4000), 500)).created, false, 'started at 1000, not before 500');
      const replaced = await store.create(task('t1', 4000, { UserId: 'v' }), 1001);
      assert.equal(replaced.created, true);
      const now = await store.get(key('t1'));
      assert.deepEqual([now?.UserId, now?.Status, now?.StartTime, now?.EndTime], ['v', TaskStatus.NotStarted, 4000, 0]);
    });

    it('writes nothing when a change throws or declines', async () => {
      const before = await store.get(key('t1'));
      await assert.rejects(
        store.update(key('t1'), () => {
          throw new Error('boom');
        }),
        /boom/,
      );
      assert.equal(await store.update(key('t1'), () => undefined), undefined);
      assert.deepEqual(await store.get(key('t1')), before);
      assert.equal(await store.update(key('none'), (t) => t), undefined);
    });

    it('lists by room and status, newest first, counts by status, and finds a room’s latest', async () => {
      await store.create(task('t2', 5000), 0);
      await store.create(task('t3', 6000, { RoomId: 'other' }), 0);
      const active = await store.list({ AppId: 'a', RoomId: 'r', statuses: [TaskStatus.NotStarted, TaskStatus.Running] });
      assert.deepEqual(active.map((t) => t.TaskId), ['t2', 't1']);
      assert.deepEqual((await store.list({ AppId: 'a', limit: 2 })).map((t) => t.TaskId), ['t3', 't2']);
      assert.deepEqual((await store.list({ startedSince: 4500 })).map((t) => t.TaskId), ['t3', 't2']);
      assert.deepEqual(await store.list({ statuses: [] }), []);
      assert.deepEqual(await store.countByStatus(0), new Map([[TaskStatus.NotStarted, 3]]));
      assert.equal((await store.latestInRoom('a', 'r', 0))?.TaskId, 't2');
      assert.equal(await store.latestInRoom('a', 'r', 7000), undefined);
    });

    it('queues a change’s callbacks with it, and gives each task’s oldest due one, at most perApp per app', async () => {
      await store.update(key('t2'), (t) => transition(t, { type: 'published' }, 7000));
      await store.update(key('t2'), (t) => transition(t, { type: 'failed', reason: StopReason.PageCrash, detail: 'why' }, 8000));
      const t3 = await store.get(key('t3', { RoomId: 'other' }));
      assert.ok(t3);
      await store.recordEvent(pageEvent(EventType.Refresh, t3, 7500, 'blank'));
      const mine = await store.callbacksOf(key('t2'));
      assert.deepEqual(mine.map((c) => [c.event.EventType, c.state]), [[EventType.FirstFrame, 'pending'], [EventType.End, 'pending']]);
      assert.equal(mine[1]?.event.EventData.FailureDetail, 'why');
      // t1's end (at 3000), t2's first frame, t3's refresh: one per task, oldest first.
      const due = await store.dueCallbacks(10_000, 10, 10);
      assert.deepEqual(due.map((c) => [c.event.TaskId, c.event.EventType]), [['t1', EventType.End], ['t2', EventType.FirstFrame], ['t3', EventType.Refresh]]);
      assert.equal((await store.dueCallbacks(10_000, 10, 2)).length, 2, 'two of app a');
      assert.equal((await store.dueCallbacks(10_000, 1, 10)).length, 1);
      assert.deepEqual((await store.dueCallbacks(7000, 10, 10)).map((c) => c.event.TaskId), ['t1', 't2'], 't3’s refresh is due at 7500');
    });

    it('records deliveries: a retry waits, a delivered one lets the task’s next go, a failed one is final', async () => {
      const [first, second] = await store.callbacksOf(key('t2'));
      assert.ok(first && second);
      await store.recordDelivery(first.id, { state: 'retry', error: 'HTTP 500', nextAttemptAt: 20_000 });
      assert.ok(!(await store.dueCallbacks(10_000, 10, 10)).some((c) => c.event.TaskId === 't2'));
      await store.recordDelivery(first.id, { state: 'delivered', at: 20_001 });
      assert.deepEqual((await store.dueCallbacks(30_000, 10, 10)).find((c) => c.event.TaskId === 't2')?.id, second.id);
      await store.recordDelivery(second.id, { state: 'failed', error: 'HTTP 404' });
      const after = await store.callbacksOf(key('t2'));
      assert.deepEqual(after.map((c) => [c.state, c.attempts, c.lastError]), [['delivered', 2, ''], ['failed', 1, 'HTTP 404']]);
      assert.ok(!(await store.dueCallbacks(30_000, 10, 10)).some((c) => c.event.TaskId === 't2'));
    });

    it('counts the starts that died right after resuming a task', async () => {
      const k = key('t9');
      assert.equal(await store.noteResume(k, 1), 0);
      assert.equal(await store.noteResume(k, 2), 1, 'the first resume never settled');
      await store.resumesInterrupted();
      assert.equal(await store.noteResume(k, 3), 1, 'a clean stop is no death');
      await store.resumeSettled(k);
      assert.equal(await store.noteResume(k, 4), 0);
    });

    it('makes one task of concurrent Starts of one key through two nodes', async () => {
      const other = await db.open();
      try {
        for (let i = 0; i < 5; i++) {
          const t = task(`race-${i}`, 10_000 + i);
          const outcomes = await Promise.all([store, other, store, other].map((s) => s.create(t, 0)));
          assert.equal(outcomes.filter((o) => o.created).length, 1, `race-${i}: ${JSON.stringify(outcomes.map((o) => o.created))}`);
        }
      } finally {
        await other.close();
      }
    });

    it('serialises concurrent changes of one task through two nodes: none is lost', async () => {
      const other = await db.open();
      try {
        await store.create(task('counted', 11_000), 0);
        await Promise.all(
          Array.from({ length: 20 }, (_, i) => (i % 2 ? store : other).update(key('counted'), (t) => ({ ...t, FailureDetail: `${t.FailureDetail}x` }))),
        );
        assert.equal((await store.get(key('counted')))?.FailureDetail, 'x'.repeat(20));
      } finally {
        await other.close();
      }
    });
  });
}

const dir = mkdtempSync(path.join(tmpdir(), 'webcast-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
contract('SQLite', () => ({
  expectedVersions: sqliteMigrations.map((m) => m.version),
  async fresh() {
    const file = path.join(dir, `tasks-${++files}.sqlite`);
    return {
      open: async () => new SqliteTaskStore(file),
      async versions() {
        const db = new Database(file, { readonly: true });
        const rows = db.prepare<[], { version: number }>('SELECT version FROM schema_migrations ORDER BY version').all();
        db.close();
        return rows.map((r) => r.version);
      },
    };
  },
}));

let server: TestPostgres;
before(async () => {
  server = await startPostgres();
});
after(() => server.stop());
contract('PostgreSQL', () => ({
  expectedVersions: postgresMigrations.map((m) => m.version),
  async fresh() {
    const url = await server.newDatabase();
    return {
      open: () => PostgresTaskStore.open({ url }),
      versions: async () => (await server.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version', [], url)).map((r) => r.version),
    };
  },
}));

describe('the PostgreSQL task store on a new database', () => {
  it('lets many nodes that start at once migrate it: each version once, every node ready', async () => {
    const url = await server.newDatabase();
    const stores = await Promise.all(Array.from({ length: 6 }, () => PostgresTaskStore.open({ url, poolSize: 2 })));
    await Promise.all(stores.map((s) => s.close()));
    const rows = await server.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version', [], url);
    assert.deepEqual(rows.map((r) => r.version), postgresMigrations.map((m) => m.version));
  });

  it('says which server it cannot reach, and leaves nothing open', async () => {
    await assert.rejects(PostgresTaskStore.open({ url: 'postgres://webcast@127.0.0.1:1/none' }), /ECONNREFUSED|connect/);
  });
});
