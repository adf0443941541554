import Database from 'better-sqlite3';
import type { CreateOutcome, DeliveryOutcome, StoredCallback, TaskFilter, TaskStore } from '../tasks/ports.js';
import { eventsOfChange, type TaskEvent } from '../tasks/events.js';
import { isFinal } from '../tasks/state-machine.js';
import type { Task, TaskKey, TaskStatus } from '../tasks/types.js';
import { sqliteMigrations, type Migration } from './migrations.js';
import { COLUMNS, callbackFromRow, eventRow, fromRow, toRow, type CallbackRow, type TaskRow } from './rows.js';

const KEY_MATCH = 'app_id = @app_id AND room_id = @room_id AND task_id = @task_id';
const keyParams = (k: TaskKey) => ({ app_id: k.AppId, room_id: k.RoomId, task_id: k.TaskId });

export function migrate(db: Database.Database, migrations: readonly Migration[] = sqliteMigrations): number {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
  const applied = new Set(
    db.prepare<[], { version: number }>('SELECT version FROM schema_migrations').all().map((r) => r.version),
  );
  const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
  for (const m of migrations) {
    if (applied.has(m.version)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      record.run(m.version, m.name, Date.now());
    })();
  }
  return Math.max(0, ...migrations.map((m) => m.version));
}

/**
 * SQLite behind the TaskStore port. better-sqlite3 is synchronous, so each method is one
 * transaction that no other request can interleave with; the methods are async only to keep
 * the port's shape for stores that are truly asynchronous (and so a throw is a rejection).
 */
export class SqliteTaskStore implements TaskStore {
  private readonly db: Database.Database;
  private readonly insertStmt: Database.Statement;
  private readonly replaceStmt: Database.Statement;
  private readonly getStmt: Database.Statement<ReturnType<typeof keyParams>, TaskRow>;
  private readonly enqueueStmt: Database.Statement;

  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    // FULL: an acknowledged Start survives a power cut, not only a crash of the process.
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
    migrate(this.db);
    const cols = COLUMNS.join(', ');
    const vals = COLUMNS.map((c) => `@${c}`).join(', ');
    this.insertStmt = this.db.prepare(`INSERT INTO tasks (${cols}) VALUES (${vals})`);
    this.replaceStmt = this.db.prepare(
      `UPDATE tasks SET ${COLUMNS.map((c) => `${c} = @${c}`).join(', ')} WHERE ${KEY_MATCH}`,
    );
    this.getStmt = this.db.prepare(`SELECT * FROM tasks WHERE ${KEY_MATCH}`);
    this.enqueueStmt = this.db.prepare(
      `INSERT INTO callbacks (event_id, app_id, room_id, task_id, event_type, event_time, event_data, nonce, next_attempt_at)
       VALUES (@event_id, @app_id, @room_id, @task_id, @event_type, @event_time, @event_data, @nonce, @next_attempt_at)`,
    );
  }

  private enqueue(events: readonly TaskEvent[], now: number): void {
    for (const e of events) {
      this.enqueueStmt.run(eventRow(e, now));
    }
  }

  async create(task: Task, reusableBefore: number): Promise<CreateOutcome> {
    const run = this.db.transaction((): CreateOutcome => {
      const row = this.getStmt.get(keyParams(task));
      if (!row) {
        this.insertStmt.run(toRow(task));
        return { created: true, task };
      }
      const existing = fromRow(row);
      if (isFinal(existing.Status) && existing.StartTime < reusableBefore) {
        this.replaceStmt.run(toRow(task));
        return { created: true, task };
      }
      return { created: false, existing };
    });
    return run.immediate();
  }

  async get(key: TaskKey): Promise<Task | undefined> {
    const row = this.getStmt.get(keyParams(key));
    return row && fromRow(row);
  }

  async latestInRoom(appId: string, roomId: string, startedSince: number): Promise<Task | undefined> {
    const row = this.db
      .prepare<[string, string, number], TaskRow>(
        'SELECT * FROM tasks WHERE app_id = ? AND room_id = ? AND start_time >= ? ORDER BY start_time DESC, task_id DESC LIMIT 1',
      )
      .get(appId, roomId, startedSince);
    return row && fromRow(row);
  }

  async list(filter: TaskFilter): Promise<Task[]> {
    const where: string[] = [];
    const params: Record<string, string | number> = {};
    if (filter.AppId !== undefined) {
      where.push('app_id = @app_id');
      params.app_id = filter.AppId;
    }
    if (filter.RoomId !== undefined) {
      where.push('room_id = @room_id');
      params.room_id = filter.RoomId;
    }
    if (filter.startedSince !== undefined) {
      where.push('start_time >= @since');
      params.since = filter.startedSince;
    }
    if (filter.statuses !== undefined) {
      if (filter.statuses.length === 0) return [];
      where.push(`status IN (${filter.statuses.map((s) => Number(s)).join(', ')})`);
    }
    const sql = `SELECT * FROM tasks ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY start_time DESC LIMIT @limit`;
    params.limit = filter.limit ?? 1000;
    return this.db.prepare<Record<string, string | number>, TaskRow>(sql).all(params).map(fromRow);
  }

  async countByStatus(startedSince: number): Promise<Map<TaskStatus, number>> {
    const rows = this.db
      .prepare<[number], { status: TaskStatus; n: number }>('SELECT status, COUNT(*) AS n FROM tasks WHERE start_time >= ? GROUP BY status')
      .all(startedSince);
    return new Map(rows.map((r) => [r.status, r.n]));
  }

  async update(key: TaskKey, change: (task: Task) => Task | undefined): Promise<Task | undefined> {
    const run = this.db.transaction((): Task | undefined => {
      const row = this.getStmt.get(keyParams(key));
      if (!row) return undefined;
      const before = fromRow(row);
      const next = change(before);
      if (!next) return undefined;
      this.replaceStmt.run(toRow(next));
      this.enqueue(eventsOfChange(before, next), next.UpdatedAt);
      return next;
    });
    return run.immediate();
  }

  async recordEvent(event: TaskEvent): Promise<void> {
    this.enqueue([event], Date.parse(event.EventTime));
  }

  async dueCallbacks(now: number, limit: number, perApp: number): Promise<StoredCallback[]> {
    // Per task, only its oldest undelivered callback may go: callbacks of a task arrive in order.
    const rows = this.db
      .prepare<[number, number, number], CallbackRow>(
        `SELECT * FROM (
           SELECT c.*, ROW_NUMBER() OVER (PARTITION BY c.app_id ORDER BY c.id) AS nth_of_app FROM callbacks c
           WHERE c.id IN (SELECT MIN(id) FROM callbacks WHERE state = 'pending' GROUP BY app_id, room_id, task_id)
             AND c.next_attempt_at <= ?)
         WHERE nth_of_app <= ? ORDER BY id LIMIT ?`,
      )
      .all(now, perApp, limit);
    return rows.map(callbackFromRow);
  }

  async recordDelivery(id: number, outcome: DeliveryOutcome): Promise<void> {
    if (outcome.state === 'delivered') {
      this.db.prepare(`UPDATE callbacks SET state = 'delivered', attempts = attempts + 1, delivered_at = ?, last_error = '' WHERE id = ?`).run(outcome.at, id);
    } else if (outcome.state === 'retry') {
      this.db.prepare('UPDATE callbacks SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE id = ?').run(outcome.nextAttemptAt, outcome.error, id);
    } else {
      const counts = outcome.state === 'failed' ? 1 : 0;
      this.db.prepare('UPDATE callbacks SET state = ?, attempts = attempts + ?, last_error = ? WHERE id = ?').run(outcome.state, counts, outcome.error, id);
    }
  }

  async callbacksOf(key: TaskKey): Promise<StoredCallback[]> {
    return this.db
      .prepare<[string, string, string], CallbackRow>('SELECT * FROM callbacks WHERE app_id = ? AND room_id = ? AND task_id = ? ORDER BY id')
      .all(key.AppId, key.RoomId, key.TaskId)
      .map(callbackFromRow);
  }

  async noteResume(key: TaskKey, now: number): Promise<number> {
    const run = this.db.transaction((): number => {
      const row = this.db
        .prepare<ReturnType<typeof keyParams>, { resumed_at: number | null; quick_deaths: number }>(`SELECT resumed_at, quick_deaths FROM resumes WHERE ${KEY_MATCH}`)
        .get(keyParams(key));
      // Still marked as resuming: the start that resumed it last died before it settled.
      const deaths = row ? row.quick_deaths + (row.resumed_at === null ? 0 : 1) : 0;
      this.db
        .prepare(
          `INSERT INTO resumes (app_id, room_id, task_id, resumed_at, quick_deaths) VALUES (@app_id, @room_id, @task_id, @now, @deaths)
           ON CONFLICT (app_id, room_id, task_id) DO UPDATE SET resumed_at = @now, quick_deaths = @deaths`,
        )
        .run({ ...keyParams(key), now, deaths });
      return deaths;
    });
    return run.immediate();
  }

  async resumeSettled(key: TaskKey): Promise<void> {
    this.db.prepare(`DELETE FROM resumes WHERE ${KEY_MATCH}`).run(keyParams(key));
  }

  async resumesInterrupted(): Promise<void> {
    this.db.prepare('UPDATE resumes SET resumed_at = NULL').run();
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
