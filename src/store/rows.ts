import type { CallbackState, StoredCallback } from '../tasks/ports.js';
import type { EventType, TaskEvent } from '../tasks/events.js';
import type { Task, TaskStatus, StopReason } from '../tasks/types.js';

/** A task and a callback as both stores keep them: the same columns, the same encodings. */

export interface TaskRow {
  app_id: string;
  room_id: string;
  task_id: string;
  user_id: string;
  source_url: string;
  business_id: string;
  max_running_time: number;
  video_solutions: string;
  monitor_config: string;
  event_notify_config: string;
  status: number;
  stop_reason: string;
  start_time: number;
  end_time: number;
  updated_at: number;
  failure_detail: string;
}

export const toRow = (t: Task): TaskRow => ({
  app_id: t.AppId,
  room_id: t.RoomId,
  task_id: t.TaskId,
  user_id: t.UserId,
  source_url: t.SourceURL,
  business_id: t.BusinessId,
  max_running_time: t.MaxRunningTime,
  video_solutions: JSON.stringify(t.VideoSolutions),
  monitor_config: JSON.stringify(t.MonitorConfig),
  event_notify_config: JSON.stringify(t.EventNotifyConfig),
  status: t.Status,
  stop_reason: t.StopReason,
  start_time: t.StartTime,
  end_time: t.EndTime,
  updated_at: t.UpdatedAt,
  failure_detail: t.FailureDetail,
});

export const fromRow = (r: TaskRow): Task => ({
  AppId: r.app_id,
  RoomId: r.room_id,
  TaskId: r.task_id,
  UserId: r.user_id,
  SourceURL: r.source_url,
  BusinessId: r.business_id,
  MaxRunningTime: r.max_running_time,
  VideoSolutions: JSON.parse(r.video_solutions) as Task['VideoSolutions'],
  MonitorConfig: JSON.parse(r.monitor_config) as Task['MonitorConfig'],
  EventNotifyConfig: JSON.parse(r.event_notify_config) as Task['EventNotifyConfig'],
  Status: r.status as TaskStatus,
  StopReason: r.stop_reason as StopReason,
  StartTime: r.start_time,
  EndTime: r.end_time,
  UpdatedAt: r.updated_at,
  FailureDetail: r.failure_detail,
});

export interface CallbackRow {
  id: number;
  event_id: string;
  app_id: string;
  room_id: string;
  task_id: string;
  event_type: string;
  event_time: string;
  event_data: string;
  nonce: string;
  state: string;
  attempts: number;
  next_attempt_at: number;
  last_error: string;
}

export const callbackFromRow = (r: CallbackRow): StoredCallback => ({
  id: r.id,
  event: {
    EventId: r.event_id,
    EventType: r.event_type as EventType,
    AppId: r.app_id,
    RoomId: r.room_id,
    TaskId: r.task_id,
    EventTime: r.event_time,
    EventData: JSON.parse(r.event_data) as Record<string, unknown>,
    Nonce: r.nonce,
  },
  state: r.state as CallbackState,
  attempts: r.attempts,
  nextAttemptAt: r.next_attempt_at,
  lastError: r.last_error,
});

export const COLUMNS = Object.keys(toRow({} as Task)) as (keyof TaskRow)[];

/** A callback's row as it is queued, due at `now`. */
export const eventRow = (e: TaskEvent, now: number) => ({
  event_id: e.EventId,
  app_id: e.AppId,
  room_id: e.RoomId,
  task_id: e.TaskId,
  event_type: e.EventType,
  event_time: e.EventTime,
  event_data: JSON.stringify(e.EventData),
  nonce: e.Nonce,
  next_attempt_at: now,
});
