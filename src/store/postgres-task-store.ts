import pg from 'pg';
import type { CreateOutcome, DeliveryOutcome, StoredCallback, TaskFilter, TaskStore } from '../tasks/ports.js';
import { eventsOfChange, type TaskEvent } from '../tasks/events.js';
import { isFinal } from '../tasks/state-machine.js';
import type { Task, TaskKey, TaskStatus } from '../tasks/types.js';
import { postgresMigrations, type Migration } from './migrations.js';
import { COLUMNS, callbackFromRow, eventRow, fromRow, toRow, type CallbackRow, type TaskRow } from './rows.js';

const INT8_OID = 20;
/**
 * BIGINT columns (Unix ms, callback ids) come back as numbers: they stay far below 2^53, and
 * the rest of the service reads them as the SQLite store gives them.
 */
const types = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === INT8_OID ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

const KEY_MATCH = 'app_id = $1 AND room_id = $2 AND task_id = $3';
const keyValues = (k: TaskKey): string[] => [k.AppId, k.RoomId, k.TaskId];
const rowValues = (t: Task): unknown[] => {
  const row = toRow(t);
  return COLUMNS.map((c) => row[c]);
};
const INSERT_TASK = `INSERT INTO tasks (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map((_, i) => `$${i + 1}`).join(', ')})`;
// The key columns come first in COLUMNS, so $1..$3 are the key here too.
const REPLACE_TASK = `UPDATE tasks SET ${COLUMNS.map((c, i) => `${c} = $${i + 1}`).join(', ')} WHERE ${KEY_MATCH}`;
const EVENT_COLUMNS = Object.keys(eventRow({ EventData: {} } as TaskEvent, 0)) as (keyof ReturnType<typeof eventRow>)[];
const INSERT_EVENT = `INSERT INTO callbacks (${EVENT_COLUMNS.join(', ')}) VALUES (${EVENT_COLUMNS.map((_, i) => `$${i + 1}`).join(', ')})`;

/** Every node that starts at once migrates; one does the work, the others wait for it and find nothing left. */
const MIGRATION_LOCK = 0x77656263; // "webc"

export async function migrate(pool: pg.Pool, migrations: readonly Migration[] = postgresMigrations): Promise<number> {
  await inTransaction(pool, async (db) => {
    await db.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await db.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)');
    const applied = new Set((await db.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
    for (const m of migrations) {
      if (applied.has(m.version)) continue;
      await db.query(m.sql);
      await db.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, Date.now()]);
    }
  });
  return Math.max(0, ...migrations.map((m) => m.version));
}

async function inTransaction<T>(pool: pg.Pool, work: (db: pg.PoolClient) => Promise<T>): Promise<T> {
  const db = await pool.connect();
  try {
    await db.query('BEGIN');
    const result = await work(db);
    await db.query('COMMIT');
    return result;
  } catch (err) {
    await db.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    db.release();
  }
}

export interface PostgresStoreOptions {
  /** postgres://user:password@host:port/database (node-postgres' connection string). */
  url: string;
  /** Connections kept by this node. */
  poolSize?: number;
}

/**
 * PostgreSQL behind the TaskStore port, for several nodes on one database. Each method that
 * reads and then writes does it in one transaction holding the row's lock (`FOR UPDATE`), so
 * changes of a task through different nodes are serialised as they are within one node.
 */
export class PostgresTaskStore implements TaskStore {
  private constructor(readonly pool: pg.Pool) {}

  static async open(o: PostgresStoreOptions): Promise<PostgresTaskStore> {
    const pool = new pg.Pool({ connectionString: o.url, max: o.poolSize ?? 10, types, application_name: 'webcast' });
    // An idle connection the server dropped must not take the node down.
    pool.on('error', () => undefined);
    try {
      await migrate(pool);
    } catch (err) {
      await pool.end();
      throw err;
    }
    return new PostgresTaskStore(pool);
  }

  private async enqueue(db: pg.PoolClient, events: readonly TaskEvent[], now: number): Promise<void> {
    for (const e of events) {
      const row = eventRow(e, now);
      await db.query(INSERT_EVENT, EVENT_COLUMNS.map((c) => row[c]));
    }
  }

  async create(task: Task, reusableBefore: number): Promise<CreateOutcome> {
    return inTransaction(this.pool, async (db) => {
      // A concurrent insert of the same key waits here for the other's commit, then finds it.
      const inserted = await db.query(`${INSERT_TASK} ON CONFLICT (app_id, room_id, task_id) DO NOTHING`, rowValues(task));
      if (inserted.rowCount === 1) return { created: true, task };
      const row = (await db.query<TaskRow>(`SELECT * FROM tasks WHERE ${KEY_MATCH} FOR UPDATE`, keyValues(task))).rows[0];
      if (!row) throw new Error('a task that conflicted on insert is gone');
      const existing = fromRow(row);
      if (isFinal(existing.Status) && existing.StartTime < reusableBefore) {
        await db.query(REPLACE_TASK, rowValues(task));
        return { created: true, task };
      }
      return { created: false, existing };
    });
  }

  async get(key: TaskKey): Promise<Task | undefined> {
    const row = (await this.pool.query<TaskRow>(`SELECT * FROM tasks WHERE ${KEY_MATCH}`, keyValues(key))).rows[0];
    return row && fromRow(row);
  }

  async latestInRoom(appId: string, roomId: string, startedSince: number): Promise<Task | undefined> {
    const row = (
      await this.pool.query<TaskRow>(
        'SELECT * FROM tasks WHERE app_id = $1 AND room_id = $2 AND start_time >= $3 ORDER BY start_time DESC, task_id DESC LIMIT 1',
        [appId, roomId, startedSince],
      )
    ).rows[0];
    return row && fromRow(row);
  }

  async list(filter: TaskFilter): Promise<Task[]> {
    const where: string[] = [];
    const values: unknown[] = [];
    const param = (v: unknown): string => `$${values.push(v)}`;
    if (filter.AppId !== undefined) where.push(`app_id = ${param(filter.AppId)}`);
    if (filter.RoomId !== undefined) where.push(`room_id = ${param(filter.RoomId)}`);
    if (filter.startedSince !== undefined) where.push(`start_time >= ${param(filter.startedSince)}`);
    if (filter.statuses !== undefined) {
      if (filter.statuses.length === 0) return [];
      where.push(`status = ANY(${param(filter.statuses.map(Number))})`);
    }
    const sql = `SELECT * FROM tasks ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY start_time DESC LIMIT ${param(filter.limit ?? 1000)}`;
    return (await this.pool.query<TaskRow>(sql, values)).rows.map(fromRow);
  }

  async countByStatus(startedSince: number): Promise<Map<TaskStatus, number>> {
    const { rows } = await this.pool.query<{ status: TaskStatus; n: number }>(
      'SELECT status, COUNT(*)::int AS n FROM tasks WHERE start_time >= $1 GROUP BY status',
      [startedSince],
    );
    return new Map(rows.map((r) => [r.status, r.n]));
  }

  async update(key: TaskKey, change: (task: Task) => Task | undefined): Promise<Task | undefined> {
    return inTransaction(this.pool, async (db) => {
      const row = (await db.query<TaskRow>(`SELECT * FROM tasks WHERE ${KEY_MATCH} FOR UPDATE`, keyValues(key))).rows[0];
      if (!row) return undefined;
      const before = fromRow(row);
      const next = change(before);
      if (!next) return undefined;
      await db.query(REPLACE_TASK, rowValues(next));
      await this.enqueue(db, eventsOfChange(before, next), next.UpdatedAt);
      return next;
    });
  }

  async recordEvent(event: TaskEvent): Promise<void> {
    const row = eventRow(event, Date.parse(event.EventTime));
    await this.pool.query(INSERT_EVENT, EVENT_COLUMNS.map((c) => row[c]));
  }

  async dueCallbacks(now: number, limit: number, perApp: number): Promise<StoredCallback[]> {
    // Per task, only its oldest undelivered callback may go: callbacks of a task arrive in order.
    const { rows } = await this.pool.query<CallbackRow>(
      `SELECT * FROM (
         SELECT c.*, ROW_NUMBER() OVER (PARTITION BY c.app_id ORDER BY c.id) AS nth_of_app FROM callbacks c
         WHERE c.id IN (SELECT MIN(id) FROM callbacks WHERE state = 'pending' GROUP BY app_id, room_id, task_id)
           AND c.next_attempt_at <= $1) AS due
       WHERE nth_of_app <= $2 ORDER BY id LIMIT $3`,
      [now, perApp, limit],
    );
    return rows.map(callbackFromRow);
  }

  async recordDelivery(id: number, outcome: DeliveryOutcome): Promise<void> {
    if (outcome.state === 'delivered') {
      await this.pool.query(`UPDATE callbacks SET state = 'delivered', attempts = attempts + 1, delivered_at = $1, last_error = '' WHERE id = $2`, [outcome.at, id]);
    } else if (outcome.state === 'retry') {
      await this.pool.query('UPDATE callbacks SET attempts = attempts + 1, next_attempt_at = $1, last_error = $2 WHERE id = $3', [outcome.nextAttemptAt, outcome.error, id]);
    } else {
      const counts = outcome.state === 'failed' ? 1 : 0;
      await this.pool.query('UPDATE callbacks SET state = $1, attempts = attempts + $2, last_error = $3 WHERE id = $4', [outcome.state, counts, outcome.error, id]);
    }
  }

  async callbacksOf(key: TaskKey): Promise<StoredCallback[]> {
    const { rows } = await this.pool.query<CallbackRow>(`SELECT * FROM callbacks WHERE ${KEY_MATCH} ORDER BY id`, keyValues(key));
    return rows.map(callbackFromRow);
  }

  async noteResume(key: TaskKey, now: number): Promise<number> {
    return inTransaction(this.pool, async (db) => {
      const row = (
        await db.query<{ resumed_at: number | null; quick_deaths: number }>(`SELECT resumed_at, quick_deaths FROM resumes WHERE ${KEY_MATCH} FOR UPDATE`, keyValues(key))
      ).rows[0];
      // Still marked as resuming: the start that resumed it last died before it settled.
      const deaths = row ? row.quick_deaths + (row.resumed_at === null ? 0 : 1) : 0;
      await db.query(
        `INSERT INTO resumes (app_id, room_id, task_id, resumed_at, quick_deaths) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (app_id, room_id, task_id) DO UPDATE SET resumed_at = $4, quick_deaths = $5`,
        [...keyValues(key), now, deaths],
      );
      return deaths;
    });
  }

  async resumeSettled(key: TaskKey): Promise<void> {
    await this.pool.query(`DELETE FROM resumes WHERE ${KEY_MATCH}`, keyValues(key));
  }

  async resumesInterrupted(): Promise<void> {
    await this.pool.query('UPDATE resumes SET resumed_at = NULL');
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
