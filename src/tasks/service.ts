import { InvalidTransitionError, isActive, newTask, transition } from './state-machine.js';
import type { Clock, StoredCallback, TaskRunner, TaskStore } from './ports.js';
import type { TaskListQuery } from './validation.js';
import { StopReason, TASK_VISIBILITY_MS, TaskStatus, type Task, type TaskKey, type TaskSpec } from './types.js';

/** Outcomes the API must tell apart; they carry no transport detail. */
export class TaskAlreadyExistsError extends Error {
  constructor(key: TaskKey) {
    super(`TaskId ${key.TaskId} was already used in room ${key.RoomId} within the last 72 hours and has ended`);
    this.name = 'TaskAlreadyExistsError';
  }
}

export class ActiveTaskNotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ActiveTaskNotFoundError';
  }
}

export class CapacityError extends Error {
  constructor() {
    super('this node runs as many tasks as it can and its waiting line is full; try again later');
    this.name = 'CapacityError';
  }
}

export type StartOutcome = { started: true; task: Task } | { started: false; task: Task };

export class TaskService {
  constructor(
    private readonly store: TaskStore,
    private readonly runner: TaskRunner,
    private readonly clock: Clock = Date.now,
  ) {}

  private visibleSince(): number {
    return this.clock() - TASK_VISIBILITY_MS;
  }

  /** Starting a task that is already active is not an error: `started` is false then. */
  async start(spec: TaskSpec): Promise<StartOutcome> {
    if (!this.runner.canAccept()) {
      // A repeated Start of an active task is still answered as such when the node is full.
      const existing = await this.store.get(spec);
      if (!existing || !isActive(existing.Status) || existing.StartTime < this.visibleSince()) throw new CapacityError();
      return { started: false, task: existing };
    }
    const outcome = await this.store.create(newTask(spec, this.clock()), this.visibleSince());
    if (!outcome.created) {
      if (isActive(outcome.existing.Status)) return { started: false, task: outcome.existing };
      throw new TaskAlreadyExistsError(spec);
    }
    await this.runner.submit(outcome.task);
    return { started: true, task: outcome.task };
  }

  async stop(key: TaskKey): Promise<Task> {
    const notFound = (): ActiveTaskNotFoundError =>
      new ActiveTaskNotFoundError(`no active task ${key.TaskId} in room ${key.RoomId} of app ${key.AppId}`);
    let stopped: Task | undefined;
    try {
      stopped = await this.store.update(key, (task) =>
        task.StartTime >= this.visibleSince() ? transition(task, { type: 'ended', reason: StopReason.StopByAPI }, this.clock()) : undefined,
      );
    } catch (err) {
      if (err instanceof InvalidTransitionError) throw notFound();
      throw err;
    }
    if (!stopped) throw notFound();
    await this.runner.release(stopped);
    return stopped;
  }

  /** Only tasks started within the last 72 hours are visible. Without TaskId: the room's latest. */
  async get(query: { AppId: string; RoomId: string; TaskId?: string }): Promise<Task> {
    const since = this.visibleSince();
    const task = query.TaskId
      ? await this.store.get({ AppId: query.AppId, RoomId: query.RoomId, TaskId: query.TaskId })
      : await this.store.latestInRoom(query.AppId, query.RoomId, since);
    if (!task || task.StartTime < since) {
      throw new ActiveTaskNotFoundError(
        query.TaskId
          ? `no task ${query.TaskId} started in the last 72 hours in room ${query.RoomId} of app ${query.AppId}`
          : `no task started in the last 72 hours in room ${query.RoomId} of app ${query.AppId}`,
      );
    }
    return task;
  }

  /** Tasks started within the last 72 hours, newest first. */
  async list(query: TaskListQuery): Promise<Task[]> {
    return this.store.list({
      ...(query.AppId ? { AppId: query.AppId } : {}),
      ...(query.RoomId ? { RoomId: query.RoomId } : {}),
      ...(query.Status !== undefined ? { statuses: [query.Status] } : {}),
      startedSince: this.visibleSince(),
      limit: query.Limit,
    });
  }

  /**
   * A visible task's events (what its callbacks report), oldest first, with their delivery, and
   * its place in line while it waits for a free slot.
   */
  async events(key: TaskKey): Promise<{ task: Task; events: StoredCallback[]; placeInLine: number | undefined }> {
    const task = await this.get(key);
    return { task, events: await this.store.callbacksOf(key), placeInLine: task.Status === TaskStatus.NotStarted ? this.runner.placeInLine(key) : undefined };
  }
}
