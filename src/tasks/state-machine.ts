import { StopReason, TaskStatus, type Task } from './types.js';

/**
 * The life of a task, as pure functions: 1 not started → 2 running → 3 ended | 4 failed.
 * Ended and failed are final; a task may end or fail before it ever ran.
 */
export type TaskEvent =
  | { type: 'published' }
  | { type: 'ended'; reason: Exclude<StopReason, ''> }
  | { type: 'failed'; reason: Exclude<StopReason, ''>; detail: string };

export class InvalidTransitionError extends Error {
  constructor(
    readonly from: TaskStatus,
    readonly event: TaskEvent['type'],
  ) {
    super(`a task in status ${from} cannot take the event '${event}'`);
    this.name = 'InvalidTransitionError';
  }
}

export const isActive = (status: TaskStatus): boolean =>
  status === TaskStatus.NotStarted || status === TaskStatus.Running;

export const isFinal = (status: TaskStatus): boolean => status === TaskStatus.Ended || status === TaskStatus.Failed;

export function transition(task: Task, event: TaskEvent, now: number): Task {
  switch (event.type) {
    case 'published':
      if (task.Status !== TaskStatus.NotStarted) throw new InvalidTransitionError(task.Status, event.type);
      return { ...task, Status: TaskStatus.Running, UpdatedAt: now };
    case 'ended':
      if (!isActive(task.Status)) throw new InvalidTransitionError(task.Status, event.type);
      return { ...task, Status: TaskStatus.Ended, StopReason: event.reason, EndTime: now, UpdatedAt: now };
    case 'failed':
      if (!isActive(task.Status)) throw new InvalidTransitionError(task.Status, event.type);
      return {
        ...task,
        Status: TaskStatus.Failed,
        StopReason: event.reason,
        EndTime: now,
        UpdatedAt: now,
        FailureDetail: event.detail,
      };
  }
}

export function newTask(spec: Omit<Task, 'Status' | 'StopReason' | 'StartTime' | 'EndTime' | 'UpdatedAt' | 'FailureDetail'>, now: number): Task {
  return {
    ...spec,
    Status: TaskStatus.NotStarted,
    StopReason: StopReason.None,
    StartTime: now,
    EndTime: 0,
    UpdatedAt: now,
    FailureDetail: '',
  };
}
