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
];
