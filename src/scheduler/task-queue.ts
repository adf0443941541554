import type { Logger } from 'pino';
import type { TaskRunner } from '../tasks/ports.js';
import { taskKeyOf, type Task, type TaskKey } from '../tasks/types.js';
import { redactUrl } from '../log.js';

const keyString = (k: TaskKey): string => `${k.AppId}/${k.RoomId}/${k.TaskId}`;

/**
 * The runner of a node without a capture engine (WEBCAST_WORKER=false): it accepts tasks and
 * keeps them, in order and in Status 1, for a worker; a stop removes them.
 */
export class TaskQueue implements TaskRunner {
  private readonly pending = new Map<string, Task>();

  constructor(private readonly log: Logger) {}

  /** An API-only node holds every task for the workers. */
  canAccept(): boolean {
    return true;
  }

  submit(task: Task): Promise<void> {
    this.pending.set(keyString(task), task);
    this.log.info({ task: keyString(task), url: redactUrl(task.SourceURL), queued: this.pending.size }, 'task queued');
    return Promise.resolve();
  }

  release(task: Task): Promise<void> {
    const removed = this.pending.delete(keyString(task));
    this.log.info({ task: keyString(task), status: task.Status, reason: task.StopReason, wasQueued: removed }, 'task released');
    return Promise.resolve();
  }

  placeInLine(key: TaskKey): number | undefined {
    const i = [...this.pending.keys()].indexOf(keyString(key));
    return i < 0 ? undefined : i + 1;
  }

  /** Waiting tasks, oldest first. */
  waiting(): TaskKey[] {
    return [...this.pending.values()].map(taskKeyOf);
  }
}
