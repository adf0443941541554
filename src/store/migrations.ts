/**
 * Schema versions, applied in order, each once, each in its own transaction. Never edit a
 * released migration: add the next one.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const sqliteMigrations: readonly Migration[] = [
  {
    version: 1,
    name: 'tasks',
    sql: `
      CREATE TABLE tasks (
        app_id              TEXT    NOT NULL,
        room_id             TEXT    NOT NULL,
        task_id             TEXT    NOT NULL,
        user_id             TEXT    NOT NULL,
        source_url          TEXT    NOT NULL,
        business_id         TEXT    NOT NULL,
        max_running_time    INTEGER NOT NULL,
        video_solutions     TEXT    NOT NULL,
        monitor_config      TEXT    NOT NULL,
        event_notify_config TEXT    NOT NULL,
        status              INTEGER NOT NULL,
        stop_reason         TEXT    NOT NULL,
        start_time          INTEGER NOT NULL,
        end_time            INTEGER NOT NULL,
        updated_at          INTEGER NOT NULL,
        failure_detail      TEXT    NOT NULL,
        PRIMARY KEY (app_id, room_id, task_id)
      );
      CREATE INDEX tasks_room_start ON tasks (app_id, room_id, start_time);
      CREATE INDEX tasks_status ON tasks (status);
    `,
  },
  {
    version: 2,
    name: 'callback outbox',
    sql: `
      CREATE TABLE callbacks (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id        TEXT    NOT NULL UNIQUE,
        app_id          TEXT    NOT NULL,
        room_id         TEXT    NOT NULL,
        task_id         TEXT    NOT NULL,
        event_type      TEXT    NOT NULL,
        event_time      TEXT    NOT NULL,
        event_data      TEXT    NOT NULL,
        nonce           TEXT    NOT NULL,
        state           TEXT    NOT NULL DEFAULT 'pending',
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        delivered_at    INTEGER,
        last_error      TEXT    NOT NULL DEFAULT ''
      );
      CREATE INDEX callbacks_task ON callbacks (app_id, room_id, task_id, id);
      CREATE INDEX callbacks_pending ON callbacks (state, next_attempt_at);
    `,
  },
  {
    version: 3,
    name: 'resumes',
    sql: `
      CREATE TABLE resumes (
        app_id       TEXT    NOT NULL,
        room_id      TEXT    NOT NULL,
        task_id      TEXT    NOT NULL,
        resumed_at   INTEGER,
        quick_deaths INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (app_id, room_id, task_id)
      );
    `,
  },
];

/**
 * The same schema in PostgreSQL's words. Times are Unix ms in BIGINT (read back as numbers:
 * they stay far below 2^53); JSON fields stay TEXT, written and read as the SQLite store does.
 */
export const postgresMigrations: readonly Migration[] = [
  {
    version: 1,
    name: 'tasks',
    sql: `
      CREATE TABLE tasks (
        app_id              TEXT    NOT NULL,
        room_id             TEXT    NOT NULL,
        task_id             TEXT    NOT NULL,
        user_id             TEXT    NOT NULL,
        source_url          TEXT    NOT NULL,
        business_id         TEXT    NOT NULL,
        max_running_time    INTEGER NOT NULL,
        video_solutions     TEXT    NOT NULL,
        monitor_config      TEXT    NOT NULL,
        event_notify_config TEXT    NOT NULL,
        status              INTEGER NOT NULL,
        stop_reason         TEXT    NOT NULL,
        start_time          BIGINT  NOT NULL,
        end_time            BIGINT  NOT NULL,
        updated_at          BIGINT  NOT NULL,
        failure_detail      TEXT    NOT NULL,
        PRIMARY KEY (app_id, room_id, task_id)
      );
      CREATE INDEX tasks_room_start ON tasks (app_id, room_id, start_time);
      CREATE INDEX tasks_status ON tasks (status);
    `,
  },
  {
    version: 2,
    name: 'callback outbox',
    sql: `
      CREATE TABLE callbacks (
        id              BIGSERIAL PRIMARY KEY,
        event_id        TEXT    NOT NULL UNIQUE,
        app_id          TEXT    NOT NULL,
        room_id         TEXT    NOT NULL,
        task_id         TEXT    NOT NULL,
        event_type      TEXT    NOT NULL,
        event_time      TEXT    NOT NULL,
        event_data      TEXT    NOT NULL,
        nonce           TEXT    NOT NULL,
        state           TEXT    NOT NULL DEFAULT 'pending',
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at BIGINT  NOT NULL,
        delivered_at    BIGINT,
        last_error      TEXT    NOT NULL DEFAULT ''
      );
      CREATE INDEX callbacks_task ON callbacks (app_id, room_id, task_id, id);
      CREATE INDEX callbacks_pending ON callbacks (state, next_attempt_at);
    `,
  },
  {
    version: 3,
    name: 'resumes',
    sql: `
      CREATE TABLE resumes (
        app_id       TEXT    NOT NULL,
        room_id      TEXT    NOT NULL,
        task_id      TEXT    NOT NULL,
        resumed_at   BIGINT,
        quick_deaths INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (app_id, room_id, task_id)
      );
    `,
  },
  {
    version: 4,
    name: 'cluster: nodes, task leases',
    sql: `
      CREATE TABLE nodes (
        node_id      TEXT    PRIMARY KEY,
        role         TEXT    NOT NULL,
        address      TEXT    NOT NULL,
        capacity     INTEGER NOT NULL,
        running      INTEGER NOT NULL DEFAULT 0,
        draining     BOOLEAN NOT NULL DEFAULT false,
        started_at   BIGINT  NOT NULL,
        heartbeat_at BIGINT  NOT NULL
      );
      -- The worker that runs a task, until when, and the claim's fencing epoch: it only grows,
      -- so a node that lost its lease cannot write over the task's new owner.
      ALTER TABLE tasks ADD COLUMN owner TEXT NOT NULL DEFAULT '';
      ALTER TABLE tasks ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE tasks ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0;
      CREATE INDEX tasks_claimable ON tasks (status, lease_until) WHERE status IN (1, 2);
    `,
  },
  {
    version: 5,
    name: 'shared rate limits',
    sql: `
      -- Request counts per access key, action and one-second window, shared by every node.
      -- Unlogged: counts of the last seconds need not survive a crash of the database.
      CREATE UNLOGGED TABLE rate_windows (
        key    TEXT    NOT NULL,
        "window" BIGINT NOT NULL,
        n      INTEGER NOT NULL,
        PRIMARY KEY (key, "window")
      );
    `,
  },
];
