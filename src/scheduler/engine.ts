import type { Logger } from 'pino';
import { CaptureSession, PageOpenError, PublishError, RescheduleError, type SessionDeps, type VideoCodec } from '../capture/capture-session.js';
import { EventType, pageEvent, type PageEventType } from '../tasks/events.js';
import type { Clock, TaskRunner, TaskStore } from '../tasks/ports.js';
import { isActive, transition, type TaskEvent } from '../tasks/state-machine.js';
import { DEFAULT_VIDEO_SOLUTION, StopReason, TaskStatus, type Task, type TaskKey } from '../tasks/types.js';
import { redactUrl } from '../log.js';
import { taskCost, taskCpuCeiling, taskToMoveOff, type Admission, type MeasuredTask, type OnAirTask } from './admission.js';

export interface EngineOptions {
  store: TaskStore;
  session: SessionDeps;
  clock: Clock;
  log: Logger;
  /** Tasks on air at once on this node, at most. */
  maxTasks: number;
  /** Admits tasks by their cost against the load measured; without it, by count alone. */
  admission?: Admission | undefined;
  /** Tasks that may wait in Status 1 for a free slot. */
  maxQueue: number;
  codec: VideoCodec;
  /** The picture is held this long so that it meets the page's sound at a viewer. */
  videoDelayMs: number;
  /** The most CPU one task's browser may use, in cores (0: none); without it, taskCpuCeiling of its layers. */
  taskCpuCores?: number | undefined;
  /** Consecutive failed attempts to put a task on air before it fails. */
  maxAttempts?: number;
  /** Reschedules (a fresh browser context) before a task fails. */
  maxReschedules: number;
  /** A task came on air for the first time, `seconds` after its Start was accepted. */
  onFirstFrame?(seconds: number): void;
  /** A task got a slot `seconds` after this node took it (submit). */
  onSlotWait?(seconds: number): void;
}

/** One task this node owns, from submit until its end. */
interface Slot {
  task: Task;
  state: 'waiting' | 'starting' | 'on-air' | 'backoff' | 'done';
  session?: CaptureSession;
  attempts: number;
  reschedules: number;
  abort?: AbortController;
  deadline?: NodeJS.Timeout;
  retry?: NodeJS.Timeout;
  /** When this node took the task (performance.now()), until it gets a slot. */
  submittedAt?: number;
  /** When it last came on air here (performance.now()): the newest is moved off first. */
  onAirAt?: number;
  /** Its browser's CPU time, sampled each second over the last ten (see shed). */
  cpu?: { session: CaptureSession; samples: { at: number; seconds: number }[] };
}

/** Seconds of CPU samples kept per task. */
const CPU_WINDOW = 10;

const keyOf = (k: TaskKey): string => `${k.AppId}/${k.RoomId}/${k.TaskId}`;
/** Read through a function: the slot may have been released while an await was pending. */
const released = (slot: Slot): boolean => slot.state === 'done';

/**
 * Runs tasks on this node: a bounded number on air, the rest waiting in order. Each task is
 * started, watched and restarted (after a lost browser, Janus or connection) until it ends by
 * Stop, by MaxRunningTime, or by failing to come on air.
 */
export class Engine implements TaskRunner {
  private readonly slots = new Map<string, Slot>();
  private readonly waiting: Slot[] = [];
  private closing = false;
  /** Looks again at the waiting line while admission holds it back, and for overload. */
  private readonly watch: NodeJS.Timeout | undefined;
  /** The task at the head of the line that admission holds back, logged once.  */
  private heldBack = '';
  /**
   * Where a task moved off this overloaded node goes: true when it went elsewhere (a cluster
   * handed it on); otherwise it waits here.
   */
  private handOff: (task: Task) => Promise<boolean> = () => Promise.resolve(false);

  constructor(private readonly o: EngineOptions) {
    if (o.admission) {
      this.watch = setInterval(() => {
        this.pump();
        this.sampleCpu();
        o.admission?.observe(this.measuredOnAir());
        if (o.admission?.overloaded(this.onAirCount)) void this.shed();
      }, 1000);
      this.watch.unref();
    }
  }

  private get onAirCount(): number {
    return [...this.slots.values()].filter((s) => s.state !== 'waiting' && s.state !== 'done').length;
  }

  /**
   * WEBCAST_QUEUE_SIZE bounds the waiting line itself: under admission by cost the tasks on air
   * are usually fewer than maxTasks, so counting slots against maxTasks + maxQueue would let
   * the line grow past its size.
   */
  canAccept(): boolean {
    return this.waiting.length < this.o.maxQueue;
  }

  async submit(task: Task): Promise<void> {
    const key = keyOf(task);
    if (this.slots.has(key)) return;
    const slot: Slot = { task, state: 'waiting', attempts: 0, reschedules: 0, submittedAt: performance.now() };
    this.slots.set(key, slot);
    const endsAt = task.StartTime + task.MaxRunningTime * 1000;
    // Timers may fire a millisecond before the wall clock says the time has come.
    const atDeadline = (): void => {
      const left = endsAt - this.o.clock();
      if (left > 0) {
        slot.deadline = setTimeout(atDeadline, left);
        slot.deadline.unref();
      } else void this.finish(slot, { type: 'ended', reason: StopReason.ExceedMaxRunningTime });
    };
    slot.deadline = setTimeout(atDeadline, Math.max(0, endsAt - this.o.clock()));
    slot.deadline.unref();
    this.waiting.push(slot);
    this.o.log.info({ task: key, url: redactUrl(task.SourceURL), waiting: this.waiting.length }, 'task submitted');
    this.pump();
    // Every slot is taken: the customer is told it waits, and where it stands.
    const place = this.placeInLine(task);
    if (place !== undefined) await this.recordPageEvent(slot, EventType.Waiting, undefined, { Position: place });
  }

  placeInLine(key: TaskKey): number | undefined {
    const i = this.waiting.findIndex((s) => keyOf(s.task) === keyOf(key));
    return i < 0 ? undefined : i + 1;
  }

  async release(task: Task): Promise<void> {
    const slot = this.slots.get(keyOf(task));
    if (!slot) return;
    this.o.log.info({ task: keyOf(task), reason: task.StopReason }, 'task released');
    await this.dispose(slot);
  }

  /** Tasks this node holds: on air, starting or waiting for a slot. */
  get load(): number {
    return this.slots.size;
  }

  holds(key: TaskKey): boolean {
    return this.slots.has(keyOf(key));
  }

  /** Takes a task off this node without writing anything: it is no longer this node's (stopped elsewhere, or claimed by another). */
  async drop(key: TaskKey, why: string): Promise<void> {
    const slot = this.slots.get(keyOf(key));
    if (!slot) return;
    this.o.log.info({ task: keyOf(key), why }, 'task dropped from this node');
    await this.dispose(slot);
  }

  /** Every task on air is put on air again, as after the room backend restarted. */
  republishAll(reason: string): void {
    for (const slot of this.slots.values()) {
      if (slot.state === 'on-air') void this.restart(slot, reason);
    }
  }

  /** What runs now, for health checks and tests. */
  snapshot(): { onAir: string[]; waiting: string[] } {
    return {
      onAir: [...this.slots.entries()].filter(([, s]) => s.state === 'on-air').map(([k]) => k),
      waiting: this.waiting.map((s) => keyOf(s.task)),
    };
  }

  session(key: TaskKey): CaptureSession | undefined {
    return this.slots.get(keyOf(key))?.session;
  }

  private pump(): void {
    while (!this.closing && this.waiting.length > 0 && this.onAirCount < this.o.maxTasks) {
      const next = this.waiting[0];
      if (!next) return;
      const modelCost = taskCost(next.task.VideoSolutions);
      const verdict = this.o.admission?.check(modelCost, this.onAirCount) ?? { admit: true, cost: modelCost };
      if (!verdict.admit) {
        if (keyOf(next.task) !== this.heldBack) this.o.log.info({ task: keyOf(next.task), why: verdict.why, waiting: this.waiting.length }, 'the node is full: the task waits');
        this.heldBack = keyOf(next.task);
        return;
      }
      this.heldBack = '';
      this.o.admission?.admitted(verdict.cost);
      this.waiting.shift();
      void this.start(next);
    }
  }

  /**
   * Whether this node would put one more light task on air now (a cluster claims only then):
   * nothing waits here, and admission has room.
   */
  wantsMore(): boolean {
    if (this.closing || this.waiting.length > 0 || this.onAirCount >= this.o.maxTasks) return false;
    return this.o.admission?.check(taskCost([DEFAULT_VIDEO_SOLUTION]), this.onAirCount).admit ?? true;
  }

  /** A cluster takes the tasks this node moves off (see shed). */
  handTasksOffTo(handOff: (task: Task) => Promise<boolean>): void {
    this.handOff = handOff;
  }

  private sampleCpu(): void {
    const now = performance.now();
    for (const slot of this.slots.values()) {
      const session = slot.state === 'on-air' ? slot.session : undefined;
      if (!session) {
        slot.cpu = undefined;
        continue;
      }
      if (slot.cpu?.session !== session) slot.cpu = { session, samples: [] };
      slot.cpu.samples.push({ at: now, seconds: session.browser.cpuSeconds() });
      if (slot.cpu.samples.length > CPU_WINDOW + 1) slot.cpu.samples.shift();
    }
  }

  /** Each task on air as the node sees it: its browser's recent cores, its expected cost, whether it loses frames. */
  private tasksOnAir(): (OnAirTask & { slot: Slot })[] {
    return [...this.slots.values()]
      .filter((slot) => slot.state === 'on-air')
      .map((slot) => ({ slot, onAirAt: slot.onAirAt ?? 0, cores: this.recentCores(slot), cost: taskCost(slot.task.VideoSolutions), lagging: slot.session?.lagging() }));
  }

  /** The tasks on air whose browsers were measured, for admission's cost of the next. */
  private measuredOnAir(): MeasuredTask[] {
    const now = performance.now();
    return this.tasksOnAir().flatMap(({ slot, cores, cost, lagging }) => (cores === undefined ? [] : [{ cores, cost, lagging, onAirMs: now - (slot.onAirAt ?? now) }]));
  }

  /** The cores a task's browser used over the last seconds, if sampled twice. */
  private recentCores(slot: Slot): number | undefined {
    const samples = slot.cpu?.samples ?? [];
    const [first, last] = [samples[0], samples[samples.length - 1]];
    if (!first || !last || last.at <= first.at) return undefined;
    // Summed over the live processes (cgroup v1 without cpuacct), it drops when one exits.
    return Math.max(0, (last.seconds - first.seconds) / ((last.at - first.at) / 1000));
  }

  /**
   * The node stayed overloaded (its pages are busier than their cost said): one task goes back
   * to the waiting line, or to another node, rather than every task losing frames: the one
   * furthest over its expected cost, or else the newest (taskToMoveOff).
   */
  private async shed(): Promise<void> {
    const onAir = this.tasksOnAir();
    if (onAir.length < 2 || this.closing) return;
    const chosen = taskToMoveOff(onAir);
    if (!chosen) return;
    this.o.admission?.movedOff(chosen.overCost);
    const { slot: moved, cores, cost } = chosen.task;
    const key = keyOf(moved.task);
    const why = chosen.overCost
      ? `its page takes ${(cores ?? 0).toFixed(2)} cores, more than twice the ${cost.toFixed(2)} its layers were expected to cost`
      : chosen.task.lagging === true
        ? 'the newest of those sending under 90 % of their frame rate'
        : 'the newest';
    const lagging = this.o.admission?.tasksLag() ?? false;
    this.o.log.warn(
      { task: key, busyCores: this.o.admission?.busyCores().toFixed(2), onAir: onAir.length, why, ...(lagging ? { tasks: 'sending under 90 % of their frame rate' } : {}) },
      'the node stays overloaded: moving a task off',
    );
    await this.recordPageEvent(moved, EventType.Reschedule, StopReason.NodeOverloaded);
    if (await this.handOff(moved.task)) {
      await this.dispose(moved);
      return;
    }
    const old = moved.session;
    moved.session = undefined;
    moved.state = 'waiting';
    moved.submittedAt = performance.now();
    this.waiting.unshift(moved);
    await old?.close();
  }

  private async start(slot: Slot): Promise<void> {
    const key = keyOf(slot.task);
    slot.state = 'starting';
    if (slot.submittedAt !== undefined) {
      this.o.onSlotWait?.((performance.now() - slot.submittedAt) / 1000);
      slot.submittedAt = undefined;
    }
    slot.attempts += 1;
    const log = this.o.log.child({ task: key });
    let session: CaptureSession;
    const abort = new AbortController();
    slot.abort = abort;
    try {
      const notify = slot.task.EventNotifyConfig;
      session = await CaptureSession.start(
        this.o.session,
        {
          label: key,
          sourceUrl: slot.task.SourceURL,
          solutions: slot.task.VideoSolutions,
          room: { appId: slot.task.AppId, roomId: slot.task.RoomId },
          userId: slot.task.UserId,
          taskId: slot.task.TaskId,
          codec: this.o.codec,
          videoDelayMs: this.o.videoDelayMs,
          cpuCeilingCores: this.o.taskCpuCores ?? taskCpuCeiling(slot.task.VideoSolutions),
          waitForStartEvent: notify.EnableEventNotify,
          startTimeoutSec: notify.EnableEventNotify ? notify.StartTimeout : 0,
          monitor: slot.task.MonitorConfig,
        },
        {
          signal: abort.signal,
          onStartEvent: () => void this.recordPageEvent(slot, EventType.StartEvent),
          onRefresh: (reason) => void this.recordPageEvent(slot, EventType.Refresh, reason),
          onPageEnd: () => void this.finish(slot, { type: 'ended', reason: StopReason.StopByAPI }, 'the page called onWebcastEnd()'),
        },
      );
    } catch (err) {
      if (released(slot)) return;
      const detail = (err as Error).message;
      if (err instanceof RescheduleError) {
        await this.reschedule(slot, err.reason, err.detail);
        return;
      }
      if (err instanceof PageOpenError || (err instanceof PublishError && err.permanent)) {
        log.warn({ detail }, err instanceof PageOpenError ? 'the page cannot be opened' : 'the room refused the publisher');
        await this.finish(slot, { type: 'failed', reason: StopReason.StartTaskFailed, detail });
        return;
      }
      const max = this.o.maxAttempts ?? 5;
      if (slot.attempts >= max) {
        log.error({ detail, attempts: slot.attempts }, 'the task could not be put on air');
        // The error is ours, not the page's, and its words are for the operator (the log has
        // them); but what the room backend answered is the customer's room's own.
        const why = err instanceof PublishError
          ? `${detail} (after ${slot.attempts} attempts)`
          : `the service could not put the page on air after ${slot.attempts} attempts (an error of the node, logged there at ${new Date(this.o.clock()).toISOString()})`;
        await this.finish(slot, { type: 'failed', reason: StopReason.StartTaskFailed, detail: why });
        return;
      }
      const delay = 1000 * 2 ** (slot.attempts - 1);
      log.warn({ detail, attempt: slot.attempts, retryInMs: delay }, 'putting the task on air failed; trying again');
      slot.state = 'backoff';
      slot.retry = setTimeout(() => void this.start(slot), delay);
      slot.retry.unref();
      return;
    }
    if (released(slot)) {
      await session.close();
      return;
    }
    slot.session = session;
    slot.state = 'on-air';
    slot.onAirAt = performance.now();
    slot.attempts = 0;
    session.once('lost', (loss) => {
      if (loss.replaced) void this.finish(slot, { type: 'ended', reason: StopReason.Unknown }, loss.reason);
      else void this.restart(slot, loss.reason, loss.reschedule);
    });
    const updated = await this.o.store.update(slot.task, (t) => (t.Status === TaskStatus.NotStarted ? transition(t, { type: 'published' }, this.o.clock()) : undefined));
    if (updated) {
      slot.task = updated;
      const seconds = (this.o.clock() - updated.StartTime) / 1000;
      this.o.onFirstFrame?.(seconds);
      log.info({ seconds }, 'first frame published: task running');
    }
  }

  /** Opens the task afresh in a new browser (Status 5), or fails it after too many; `detail` says what happened. */
  private async reschedule(slot: Slot, reason: Exclude<StopReason, ''>, detail = ''): Promise<void> {
    const log = this.o.log.child({ task: keyOf(slot.task) });
    slot.reschedules += 1;
    if (slot.reschedules > this.o.maxReschedules) {
      log.warn({ reason, detail, reschedules: slot.reschedules - 1 }, 'rescheduled too often: the task fails');
      await this.finish(slot, { type: 'failed', reason, detail: `${detail ? `${detail}; ` : ''}still ${reason} after ${this.o.maxReschedules} reschedules` });
      return;
    }
    log.info({ reason, detail, reschedule: slot.reschedules }, 'rescheduling the task in a fresh browser');
    await this.recordPageEvent(slot, EventType.Reschedule, reason);
    slot.attempts = 0;
    await this.start(slot);
  }

  /** Queues a callback that reports no change of the task's own status; a failure is logged, not thrown. */
  private async recordPageEvent(slot: Slot, type: PageEventType, reason?: string, extra: Record<string, unknown> = {}): Promise<void> {
    await this.o.store
      .recordEvent(pageEvent(type, slot.task, this.o.clock(), reason, extra))
      .catch((err: unknown) => this.o.log.error({ err, task: keyOf(slot.task) }, 'could not record a callback'));
  }

  /** Takes a task that went off air by itself down, then puts it back: as it was, or rescheduled for `reschedule`. */
  private async restart(slot: Slot, reason: string, reschedule?: Exclude<StopReason, ''>): Promise<void> {
    if (slot.state !== 'on-air' || this.closing) return;
    if (!reschedule) this.o.log.warn({ task: keyOf(slot.task), reason }, 'the task went off air; putting it back');
    const old = slot.session;
    slot.session = undefined;
    slot.state = 'backoff';
    await old?.close();
    if (slot.state !== 'backoff') return;
    await (reschedule ? this.reschedule(slot, reschedule, reason) : this.start(slot));
  }

  /** Ends the task with `event` (unless it already ended) and frees its slot. */
  private async finish(slot: Slot, event: TaskEvent, why?: string): Promise<void> {
    if (slot.state === 'done') return;
    const now = this.o.clock();
    const updated = await this.o.store.update(slot.task, (t) => (isActive(t.Status) ? transition(t, event, now) : undefined));
    if (updated) this.o.log.info({ task: keyOf(slot.task), status: updated.Status, reason: updated.StopReason, why }, 'task ended');
    await this.dispose(slot);
  }

  private async dispose(slot: Slot): Promise<void> {
    if (slot.state === 'done') return;
    slot.state = 'done';
    slot.abort?.abort();
    clearTimeout(slot.deadline);
    clearTimeout(slot.retry);
    this.slots.delete(keyOf(slot.task));
    const i = this.waiting.indexOf(slot);
    if (i >= 0) this.waiting.splice(i, 1);
    const session = slot.session;
    slot.session = undefined;
    await session?.close();
    this.pump();
  }

  /**
   * For a hand-over: starts nothing more and puts nothing back on air, but keeps what is on air
   * until the task's new node replaces it in the room (or `timeoutMs` passes); then close().
   */
  async handOver(timeoutMs: number): Promise<void> {
    this.closing = true;
    clearInterval(this.watch);
    for (const slot of [...this.slots.values()]) if (slot.state !== 'on-air') await this.dispose(slot);
    const deadline = Date.now() + timeoutMs;
    while (this.slots.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  }

  /** Takes everything off air without ending any task: they resume when the node starts again. */
  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.watch);
    await Promise.all([...this.slots.values()].map(async (slot) => {
      clearTimeout(slot.deadline);
      clearTimeout(slot.retry);
      slot.state = 'done';
      slot.abort?.abort();
      await slot.session?.close();
    }));
    this.slots.clear();
  }
}
