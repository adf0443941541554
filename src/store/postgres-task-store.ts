import pg from 'pg';
import type { Announcement, Claim, ClusterStore, CreateOutcome, DeliveryOutcome, Lease, NodeInfo, StoredCallback, TaskFilter } from '../tasks/ports.js';
import { eventsOfChange, type TaskEvent } from '../tasks/events.js';
import { isFinal } from '../tasks/state-machine.js';
import { TaskStatus, type Task, type TaskKey } from '../tasks/types.js';
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

const CHANNEL = { task: 'webcast_task', stop: 'webcast_stop', drain: 'webcast_drain' } as const;
/** The application_name of a node's listening session: its sign of life (see claim). */
const LIVE_PREFIX = 'webcast-node:';
/** The application_name of the session that holds the callback-delivery lock. */
export const DELIVERER_PREFIX = 'webcast-deliver:';

interface LeaseColumns {
  owner: string;
  epoch: number;
  lease_until: number;
}

interface NodeRow {
  node_id: string;
  role: string;
  address: string;
  capacity: number;
  running: number;
  draining: boolean;
  started_at: number;
  heartbeat_at: number;
}

const nodeFromRow = (r: NodeRow): NodeInfo => ({
  nodeId: r.node_id,
  role: r.role === 'api' ? 'api' : 'worker',
  address: r.address,
  capacity: r.capacity,
  running: r.running,
  draining: r.draining,
  startedAt: r.started_at,
  heartbeatAt: r.heartbeat_at,
});

/** Every node that starts at once migrates; one does the work, the others wait for it and find nothing left. */
const MIGRATION_LOCK = 0x77656263; // "webc"
const DELIVERY_LOCK = MIGRATION_LOCK + 1;

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
  /** Names this node's sessions, so that the others and an operator see whose they are. */
  nodeId?: string;
}

/**
 * PostgreSQL behind the TaskStore port, for several nodes on one database. Each method that
 * reads and then writes does it in one transaction holding the row's lock (`FOR UPDATE`), so
 * changes of a task through different nodes are serialised as they are within one node.
 */
export class PostgresTaskStore implements ClusterStore {
  private listener: pg.Client | undefined;
  private closing = false;
  /** This node's id, once it listens. */
  private nodeId: string | undefined;
  /** The session that holds the callback-delivery lock while this node delivers. */
  private deliverer: pg.Client | undefined;
  private delivering = false;

  private constructor(
    readonly pool: pg.Pool,
    private readonly url: string,
  ) {}

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
    const store = new PostgresTaskStore(pool, o.url);
    store.nodeId = o.nodeId;
    return store;
  }

  /** Queues callbacks, in `db`'s transaction or (the pool) on their own. */
  private async enqueue(db: pg.PoolClient | pg.Pool, events: readonly TaskEvent[], now: number): Promise<void> {
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
        // Nobody holds the new task yet; its epoch keeps growing, so no old holder's write fits it.
        await db.query(`UPDATE tasks SET owner = '', lease_until = 0 WHERE ${KEY_MATCH}`, keyValues(task));
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
    return this.updateIf(key, () => true, change);
  }

  async updateFenced(lease: Lease, nodeId: string, change: (task: Task) => Task | undefined): Promise<Task | undefined> {
    return this.updateIf(lease.key, (row) => row.owner === nodeId && row.epoch === lease.epoch, change);
  }

  private async updateIf(key: TaskKey, allowed: (row: TaskRow & LeaseColumns) => boolean, change: (task: Task) => Task | undefined): Promise<Task | undefined> {
    return inTransaction(this.pool, async (db) => {
      const row = (await db.query<TaskRow & LeaseColumns>(`SELECT * FROM tasks WHERE ${KEY_MATCH} FOR UPDATE`, keyValues(key))).rows[0];
      if (!row || !allowed(row)) return undefined;
      const before = fromRow(row);
      const next = change(before);
      if (!next) return undefined;
      await db.query(REPLACE_TASK, rowValues(next));
      await this.enqueue(db, eventsOfChange(before, next), next.UpdatedAt);
      return next;
    });
  }

  async recordEvent(event: TaskEvent): Promise<void> {
    await this.enqueue(this.pool, [event], Date.parse(event.EventTime));
  }

  async recordEventFenced(lease: Lease, nodeId: string, event: TaskEvent): Promise<boolean> {
    return inTransaction(this.pool, async (db) => {
      const held = await db.query(`SELECT 1 FROM tasks WHERE ${KEY_MATCH} AND owner = $4 AND epoch = $5 FOR SHARE`, [...keyValues(lease.key), nodeId, lease.epoch]);
      if (held.rowCount !== 1) return false;
      await this.enqueue(db, [event], Date.parse(event.EventTime));
      return true;
    });
  }

  /**
   * One node of the cluster delivers callbacks at a time: the one that holds a session lock. If
   * it dies, its session ends, the lock is free, and the next node to poll takes over; a
   * callback it was sending when it died is still pending, and is sent again (at least once).
   */
  private async mayDeliver(): Promise<boolean> {
    if (this.delivering) return true;
    if (!this.deliverer) {
      // Named after the node, so that an operator sees which node delivers.
      const c = new pg.Client({ connectionString: this.url, application_name: `${DELIVERER_PREFIX}${this.nodeId ?? ''}` });
      const lost = (): void => {
        this.delivering = false;
        if (this.deliverer === c) this.deliverer = undefined;
      };
      c.on('error', lost);
      c.on('end', lost);
      await c.connect();
      this.deliverer = c;
    }
    const { rows } = await this.deliverer.query<{ got: boolean }>('SELECT pg_try_advisory_lock($1) AS got', [DELIVERY_LOCK]);
    this.delivering = rows[0]?.got === true;
    return this.delivering;
  }

  async dueCallbacks(now: number, limit: number, perApp: number): Promise<StoredCallback[]> {
    if (!(await this.mayDeliver())) return [];
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

  /** The cluster's shared rate-limit count (see SharedCounter); one statement, one round trip. */
  async increment(key: string, window: number): Promise<number> {
    const { rows } = await this.pool.query<{ n: number }>(
      'INSERT INTO rate_windows (key, "window", n) VALUES ($1, $2, 1) ON CONFLICT (key, "window") DO UPDATE SET n = rate_windows.n + 1 RETURNING n',
      [key, window],
    );
    return rows[0]?.n ?? 0;
  }

  async heartbeat(node: NodeInfo): Promise<void> {
    // Counts of windows long past are of no use to anyone (the longest window is a minute).
    await this.pool.query('DELETE FROM rate_windows WHERE "window" < $1', [Math.floor(node.heartbeatAt / 1000) - 120]);
    await this.pool.query(
      `INSERT INTO nodes (node_id, role, address, capacity, running, draining, started_at, heartbeat_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (node_id) DO UPDATE SET role = $2, address = $3, capacity = $4, running = $5, draining = $6, started_at = $7, heartbeat_at = $8`,
      [node.nodeId, node.role, node.address, node.capacity, node.running, node.draining, node.startedAt, node.heartbeatAt],
    );
  }

  async liveNodes(since: number): Promise<NodeInfo[]> {
    const { rows } = await this.pool.query<NodeRow>('SELECT * FROM nodes WHERE heartbeat_at >= $1 ORDER BY node_id', [since]);
    return rows.map(nodeFromRow);
  }

  async claim(nodeId: string, limit: number, now: number, leaseUntil: number, reclaimOwn: boolean): Promise<Claim[]> {
    if (limit <= 0) return [];
    const { rows } = await this.pool.query<TaskRow & LeaseColumns & { previous_owner: string; previous_lease: number }>(
      `UPDATE tasks t SET owner = $1, epoch = t.epoch + 1, lease_until = $3
       FROM (SELECT app_id, room_id, task_id, owner AS previous_owner, lease_until AS previous_lease FROM tasks
             WHERE status IN (${TaskStatus.NotStarted}, ${TaskStatus.Running})
               AND (owner = '' OR lease_until < $2 OR ($5 AND owner = $1)
                    -- A node killed outright (SIGKILL, a crash) loses its sessions at once: its
                    -- tasks need not wait for the lease. A node cut off from the database cannot
                    -- renew or write either (fencing), so taking its tasks early is safe too.
                    OR (owner <> $1 AND owner <> '' AND NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = '${LIVE_PREFIX}' || owner)))
             ORDER BY start_time LIMIT $4 FOR UPDATE SKIP LOCKED) c
       WHERE t.app_id = c.app_id AND t.room_id = c.room_id AND t.task_id = c.task_id
       RETURNING t.*, c.previous_owner, c.previous_lease`,
      [nodeId, now, leaseUntil, limit, reclaimOwn],
    );
    return rows.map((r) => ({ task: fromRow(r), epoch: r.epoch, previousOwner: r.previous_owner, handedOver: r.previous_owner !== '' && r.previous_lease === 0 })).sort((a, b) => a.task.StartTime - b.task.StartTime);
  }

  async renewLeases(nodeId: string, leaseUntil: number): Promise<Lease[]> {
    const { rows } = await this.pool.query<{ app_id: string; room_id: string; task_id: string; epoch: number }>(
      // A lease of 0 was given up (releaseLease): a heartbeat after the hand-over must not take it back.
      `UPDATE tasks SET lease_until = $2 WHERE owner = $1 AND lease_until > 0 AND status IN (${TaskStatus.NotStarted}, ${TaskStatus.Running}) RETURNING app_id, room_id, task_id, epoch`,
      [nodeId, leaseUntil],
    );
    return rows.map((r) => ({ key: { AppId: r.app_id, RoomId: r.room_id, TaskId: r.task_id }, epoch: r.epoch }));
  }

  async holderOf(key: TaskKey): Promise<string | undefined> {
    const { rows } = await this.pool.query<{ owner: string }>(
      `SELECT owner FROM tasks WHERE ${KEY_MATCH} AND status IN (${TaskStatus.NotStarted}, ${TaskStatus.Running}) AND owner <> ''`,
      keyValues(key),
    );
    return rows[0]?.owner;
  }

  async releaseLease(lease: Lease): Promise<void> {
    // The owner stays, for the next claimer to see whose it was; a lease of 0 says it was given up.
    await this.pool.query(`UPDATE tasks SET lease_until = 0 WHERE ${KEY_MATCH} AND epoch = $4`, [...keyValues(lease.key), lease.epoch]);
  }

  async unclaimed(since: number): Promise<TaskKey[]> {
    const { rows } = await this.pool.query<{ app_id: string; room_id: string; task_id: string }>(
      `SELECT app_id, room_id, task_id FROM tasks WHERE status = ${TaskStatus.NotStarted} AND owner = '' AND start_time >= $1 ORDER BY start_time`,
      [since],
    );
    return rows.map((r) => ({ AppId: r.app_id, RoomId: r.room_id, TaskId: r.task_id }));
  }

  async announce(a: Announcement): Promise<void> {
    const payload = a.kind === 'drain' ? [a.nodeId] : [a.key.AppId, a.key.RoomId, a.key.TaskId];
    await this.pool.query('SELECT pg_notify($1, $2)', [CHANNEL[a.kind], JSON.stringify(payload)]);
  }

  /**
   * Listens on a session of its own, named after the node: while it is open the node is
   * alive, to the others too (see claim). A dropped session is opened again every second.
   */
  async listen(nodeId: string, on: (a: Announcement) => void): Promise<void> {
    this.nodeId ??= nodeId;
    const connect = async (): Promise<void> => {
      const client = new pg.Client({ connectionString: this.url, application_name: `${LIVE_PREFIX}${nodeId}` });
      const lost = (): void => {
        if (this.listener !== client || this.closing) return;
        this.listener = undefined;
        const retry = (): void => {
          if (this.closing) return;
          connect().catch(() => setTimeout(retry, 1000).unref());
        };
        setTimeout(retry, 1000).unref();
      };
      client.on('error', lost);
      client.on('end', lost);
      client.on('notification', (n) => {
        let parts: unknown;
        try {
          parts = JSON.parse(n.payload ?? '');
        } catch {
          return; // not ours
        }
        if (!Array.isArray(parts) || !parts.every((p) => typeof p === 'string')) return;
        const [first = '', RoomId, TaskId] = parts as string[];
        if (n.channel === CHANNEL.drain) on({ kind: 'drain', nodeId: first });
        else if ((n.channel === CHANNEL.task || n.channel === CHANNEL.stop) && RoomId !== undefined && TaskId !== undefined) {
          on({ kind: n.channel === CHANNEL.task ? 'task' : 'stop', key: { AppId: first, RoomId, TaskId } });
        }
      });
      await client.connect();
      for (const channel of Object.values(CHANNEL)) await client.query(`LISTEN ${channel}`);
      this.listener = client;
      // Announcements made while no session listened are lost: look for work at once.
      on({ kind: 'task', key: { AppId: '', RoomId: '', TaskId: '' } });
    };
    await connect();
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.listener?.end().catch(() => undefined);
    await this.deliverer?.end().catch(() => undefined);
    await this.pool.end();
  }
}
