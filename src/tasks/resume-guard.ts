import { isActive, transition } from './state-machine.js';
import { StopReason, taskKeyOf, type Task } from './types.js';
import type { Clock, TaskRunner, TaskStore } from './ports.js';

/** Starts in a row that resumed a task and then died quickly, after which it is not resumed again. */
export const CRASH_LOOP_DEATHS = 3;

export interface ResumeOutcome {
  resumed: Task[];
  /** Tasks failed with NodeCrashLoop instead of being resumed. */
  failed: Task[];
}

/**
 * Resumes the tasks a node had when it last stopped, unless resuming one keeps killing the
 * node: when a task was resumed and the node died within `stableMs`, CRASH_LOOP_DEATHS
 * starts in a row, the next start fails it with NodeCrashLoop instead of a fourth try. (The
 * whole node would otherwise loop: resume, die, restart, resume, and every other task of the
 * node off air with it.) Which task killed the node cannot be known; every task resumed in
 * each of those starts is a suspect.
 */
export class ResumeGuard {
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly store: TaskStore,
    private readonly runner: TaskRunner,
    private readonly clock: Clock,
    private readonly stableMs: number,
  ) {}

  async resume(tasks: readonly Task[]): Promise<ResumeOutcome> {
    const out: ResumeOutcome = { resumed: [], failed: [] };
    for (const task of tasks) {
      const key = taskKeyOf(task);
      const deaths = await this.store.noteResume(key, this.clock());
      if (deaths >= CRASH_LOOP_DEATHS) {
        const seconds = Math.round(this.stableMs / 1000);
        const detail = `the node stopped within ${seconds} s of resuming this task ${deaths} times in a row (a crash of the service, or of its machine); it was not resumed again`;
        const now = this.clock();
        const failed = await this.store.update(key, (t) => (isActive(t.Status) ? transition(t, { type: 'failed', reason: StopReason.NodeCrashLoop, detail }, now) : undefined));
        await this.store.resumeSettled(key);
        if (failed) out.failed.push(failed);
        continue;
      }
      await this.runner.submit(task);
      out.resumed.push(task);
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        void this.store.resumeSettled(key).catch(() => undefined);
      }, this.stableMs);
      timer.unref();
      this.timers.add(timer);
    }
    return out;
  }

  /** A clean shutdown is no death: what was resuming counts nothing. */
  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await this.store.resumesInterrupted();
  }
}
