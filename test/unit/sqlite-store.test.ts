import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { SqliteTaskStore } from '../../src/store/sqlite-task-store.js';
import { sqliteMigrations } from '../../src/store/migrations.js';
import { newTask, transition } from '../../src/tasks/state-machine.js';
import { parseStartWebcast } from '../../src/tasks/validation.js';
import { TaskStatus } from '../../src/tasks/types.js';

const dir = mkdtempSync(path.join(tmpdir(), 'webcast-store-'));
const task = (TaskId: string, now: number, over: Record<string, unknown> = {}) =>
  newTask(parseStartWebcast({ AppId: 'a', RoomId: 'r', TaskId, UserId: 'u', SourceURL: 'https://example.com', VideoSolutions: [{ Width: 640, Height: 360 }], ...over }), now);

describe('the SQLite task store', () => {
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'tasks.sqlite');

  it('creates its schema once and records the version', async () => {
    const store = new SqliteTaskStore(file);
    await store.close();
    const again = new SqliteTaskStore(file);
    await again.close();
    const db = new Database(file, { readonly: true });
    const versions = db.prepare('SELECT version FROM schema_migrations').all();
    db.close();
    assert.deepEqual(versions, sqliteMigrations.map((m) => ({ version: m.version })));
  });

  it('stores a task and reads back every field', async () => {
    const store = new SqliteTaskStore(file);
    const t = task('t1', 1000, { MonitorConfig: { BlankCheckInterval: 5 }, EventNotifyConfig: { EnableEventNotify: true, StartTimeout: 3 } });
    assert.deepEqual(await store.create(t, 0), { created: true, task: t });
    assert.deepEqual(await store.get(t), t);
    await store.close();
  });

  it('keeps a key taken while its task is active or recent, and frees it after', async () => {
    const store = new SqliteTaskStore(file);
    const dup = await store.create(task('t1', 2000), 0);
    assert.equal(dup.created, false);
    await store.update({ AppId: 'a', RoomId: 'r', TaskId: 't1' }, (t) => transition(t, { type: 'ended', reason: 'StopByAPI' }, 3000));
    assert.equal((await store.create(task('t1', 4000), 500)).created, false, 'started at 1000, not before 500');
    const replaced = await store.create(task('t1', 4000, { UserId: 'v' }), 1001);
    assert.equal(replaced.created, true);
    const now = await store.get({ AppId: 'a', RoomId: 'r', TaskId: 't1' });
    assert.deepEqual([now?.UserId, now?.Status, now?.StartTime, now?.EndTime], ['v', TaskStatus.NotStarted, 4000, 0]);
    await store.close();
  });

  it('writes nothing when a change throws or declines', async () => {
    const store = new SqliteTaskStore(file);
    const key = { AppId: 'a', RoomId: 'r', TaskId: 't1' };
    const before = await store.get(key);
    await assert.rejects(
      store.update(key, () => {
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.equal(await store.update(key, () => undefined), undefined);
    assert.deepEqual(await store.get(key), before);
    assert.equal(await store.update({ ...key, TaskId: 'none' }, (t) => t), undefined);
    await store.close();
  });

  it('lists by room and status, newest first, and finds a room’s latest', async () => {
    const store = new SqliteTaskStore(file);
    await store.create(task('t2', 5000), 0);
    await store.create(task('t3', 6000, { RoomId: 'other' }), 0);
    const active = await store.list({ AppId: 'a', RoomId: 'r', statuses: [TaskStatus.NotStarted, TaskStatus.Running] });
    assert.deepEqual(active.map((t) => t.TaskId), ['t2', 't1']);
    assert.deepEqual(await store.list({ statuses: [] }), []);
    assert.equal((await store.latestInRoom('a', 'r', 0))?.TaskId, 't2');
    assert.equal(await store.latestInRoom('a', 'r', 7000), undefined);
    await store.close();
  });
});
