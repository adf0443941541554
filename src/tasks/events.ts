import { randomBytes, randomUUID } from 'node:crypto';
import { TaskStatus, type Task } from './types.js';

/**
 * What a customer is told about a task, derived from its changes. The event is written in the
 * same transaction as the change it reports, so neither is ever without the other.
 */
export const EventType = {
  /** The first frame was published: the task runs (Status 2). */
  FirstFrame: 'WebcastFirstFrame',
  /** The task ended (Status 3) or failed (Status 4). */
  End: 'WebcastEnd',
  /** The page called onWebcastStart() (EventNotify): Status 1. */
  StartEvent: 'WebcastStartEvent',
  /** The page was refreshed, with the Reason: Status 4. */
  Refresh: 'WebcastRefresh',
  /** The task was opened afresh in a new browser context, with the Reason: Status 5. */
  Reschedule: 'WebcastReschedule',
  /** Ours: every slot of the node is taken; the task waits in line (Status 1, Position). */
  Waiting: 'WebcastWaiting',
} as const;
export type EventType = (typeof EventType)[keyof typeof EventType];

export interface TaskEvent {
  EventId: string;
  EventType: EventType;
  AppId: string;
  RoomId: string;
  TaskId: string;
  /** RFC 3339 */
  EventTime: string;
  /** The JSON object that travels, as a string, in the callback's EventData. */
  EventData: Record<string, unknown>;
  Nonce: string;
}

const NONCE_ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const nonce = (): string => [...randomBytes(4)].map((b) => NONCE_ALPHABET[b % NONCE_ALPHABET.length]).join('');

/** Callback statuses of the events that are not changes of the task's own status. */
export const CallbackStatus = { StartEvent: 1, Waiting: 1, Refresh: 4, Reschedule: 5 } as const;

export type PageEventType = typeof EventType.StartEvent | typeof EventType.Refresh | typeof EventType.Reschedule | typeof EventType.Waiting;
const STATUS_OF: Record<PageEventType, number> = {
  [EventType.StartEvent]: CallbackStatus.StartEvent,
  [EventType.Waiting]: CallbackStatus.Waiting,
  [EventType.Refresh]: CallbackStatus.Refresh,
  [EventType.Reschedule]: CallbackStatus.Reschedule,
};

export function pageEvent(type: PageEventType, task: Task, at: number, reason?: string, extra: Record<string, unknown> = {}): TaskEvent {
  return event(type, task, at, { Status: STATUS_OF[type], ...(reason ? { Reason: reason } : {}), ...extra, StartTime: task.StartTime });
}

function event(type: EventType, task: Task, at: number, data: Record<string, unknown>): TaskEvent {
  return {
    EventId: randomUUID(),
    EventType: type,
    AppId: task.AppId,
    RoomId: task.RoomId,
    TaskId: task.TaskId,
    EventTime: new Date(at).toISOString(),
    EventData: { AppId: task.AppId, RoomId: task.RoomId, TaskId: task.TaskId, UserId: task.UserId, BusinessId: task.BusinessId, ...data },
    Nonce: nonce(),
  };
}

/** The events a change of a task makes, in order. */
export function eventsOfChange(before: Task, after: Task): TaskEvent[] {
  const out: TaskEvent[] = [];
  const at = after.UpdatedAt;
  if (before.Status === TaskStatus.NotStarted && after.Status === TaskStatus.Running) {
    out.push(event(EventType.FirstFrame, after, at, { Status: TaskStatus.Running, StartTime: after.StartTime }));
  }
  const wasActive = before.Status === TaskStatus.NotStarted || before.Status === TaskStatus.Running;
  if (wasActive && (after.Status === TaskStatus.Ended || after.Status === TaskStatus.Failed)) {
    // FailureDetail is ours (the vendor's callback has no such field): why, in words, and the
    // setting that would allow it where there is one.
    const why = after.Status === TaskStatus.Failed && after.FailureDetail ? { FailureDetail: after.FailureDetail } : {};
    out.push(event(EventType.End, after, at, { Status: after.Status, StopReason: after.StopReason, StartTime: after.StartTime, EndTime: after.EndTime, ...why }));
  }
  return out;
}
