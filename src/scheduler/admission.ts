import { readFileSync } from 'node:fs';
import type { VideoSolution } from '../tasks/types.js';

/**
 * Cores one task is expected to take before it is measured: a part every task pays (its own
 * Chromium, the page drawn at 60 Hz, sound) and a part that grows with the pixels encoded a
 * second. Calibrated on this project's 2-core machine: four light pages at 1280x720@15 took
 * 1.84 cores, three 1.4 (the fourth added 0.4 to 0.45); alone, 720p30 took 0.07 cores more
 * than 720p15, and 1080p30 0.27 more.
 */
const FIXED_CORES = 0.3;
const CORES_PER_MEGAPIXEL_PER_SECOND = 0.0056;
/** Memory one more task takes (a Chromium of its own: browser, GPU, network and audio processes, two renderers). */
export const TASK_MEMORY_BYTES = 300 * 2 ** 20;

/** What a task of these VideoSolutions is expected to cost, in cores. */
export function taskCost(solutions: readonly VideoSolution[]): number {
  const megapixelsPerSecond = solutions.reduce((sum, s) => sum + (s.Width * s.Height * s.FrameRate) / 1e6, 0);
  return FIXED_CORES + CORES_PER_MEGAPIXEL_PER_SECOND * megapixelsPerSecond;
}

/** A task that uses this many times its expected cost wants more than its layers' share (and meets its ceiling). */
const OVER_COST = 2;

/**
 * What a task's ceiling adds per megapixel a second. A page whose picture changes in every frame
 * has its encoder work on every frame, where the model's light page (calibrated mostly still)
 * costs little more at 30 fps than at 15. Set so that the ceiling is at least a fifth over what
 * the tests' tone page (a moving square and a sine tone) took alone on 2026-11-27: 0.40-0.45
 * cores at 640x360@15, 0.65-0.72 at 1280x720@15, 1.01-1.14 at 1280x720@30 (1.00-1.21 with a
 * 640x360@15 layer beside it), 1.33-1.42 at 1920x1080@30.
 */
const CEILING_CORES_PER_MEGAPIXEL_PER_SECOND = 0.0145;

/**
 * The most CPU a task's browser may use unless WEBCAST_TASK_CPU_MILLICORES says otherwise:
 * twice the model's fixed part and CEILING_CORES_PER_MEGAPIXEL_PER_SECOND, at least one core,
 * so that neither a light page's own scripts nor its encoder are what holds it back. That is
 * one core up to 1280x720@15 and 320x180@60, 1.4 cores at 1280x720@30 and 2.4 at 1920x1080@30.
 * (Twice the model's cost held a moving 1280x720@30 page to one core: throttled 0.5-1.2 s of
 * every 3, its sound broke.)
 */
export function taskCpuCeiling(solutions: readonly VideoSolution[]): number {
  const megapixelsPerSecond = solutions.reduce((sum, s) => sum + (s.Width * s.Height * s.FrameRate) / 1e6, 0);
  return Math.max(1, OVER_COST * (FIXED_CORES + CEILING_CORES_PER_MEGAPIXEL_PER_SECOND * megapixelsPerSecond));
}

/** What a node knows of a task on air, for admission and for the choice of one to move off. */
interface TaskOnAir {
  /** What it was expected to cost (taskCost). */
  cost: number;
  /** Sends under 90 % of a frame rate it sent before (SendRate); undefined while that is not known. */
  lagging?: boolean | undefined;
}

/** What an overloaded node knows of each task on air when it picks one to move off. */
export interface OnAirTask extends TaskOnAir {
  /** When it came on air, in ms on any one clock. */
  onAirAt: number;
  /** The cores its browser used over the last seconds; undefined before it was measured. */
  cores: number | undefined;
}

/**
 * The task an overloaded node moves off: the one furthest over its expected cost, if one uses
 * at least twice that (a page that wants more than its layers' share is what made the node
 * busier than its costs said), else the newest of those that lose frames, else the newest. So
 * a page that starts spinning after it was admitted cannot push out a well-behaved task that
 * came after it, nor can a page that slows its own drawing (to look starved, on a busy node)
 * push out another's: it is the one moved. (Not the task its ceiling holds back: on a full
 * node, the fair share keeps a spinning page under its ceiling, measured at 1.96 cores busy of 2.)
 */
export function taskToMoveOff<T extends OnAirTask>(onAir: readonly T[]): { task: T; overCost: boolean } | undefined {
  const over = (t: T): number => (t.cores ?? 0) / t.cost;
  const hog = onAir.reduce<T | undefined>((a, b) => (over(b) >= OVER_COST && (!a || over(b) > over(a)) ? b : a), undefined);
  if (hog) return { task: hog, overCost: true };
  const newestOf = (tasks: readonly T[]) => tasks.reduce<T | undefined>((a, b) => (!a || b.onAirAt > a.onAirAt ? b : a), undefined);
  const moved = newestOf(onAir.filter((t) => t.lagging === true)) ?? newestOf(onAir);
  return moved && { task: moved, overCost: false };
}

/** A task on air as its node measured it: its browser's cores, against what its layers were expected to cost. */
export interface MeasuredTask extends TaskOnAir {
  cores: number;
  /** How long it has been on air, in ms. */
  onAirMs: number;
}

/**
 * Whether the node's tasks lose frames: one of those whose rate is known sends under 90 % of it
 * (each must keep its rate, not most of them: CI, 2026-11-27, 13.4, 14.2 and 13.5 fps of 15). A
 * page over twice its cost is left out: its own CPU ceiling may be what holds it back, and the
 * overload rule moves it off by itself.
 */
export function tasksLag(tasks: readonly MeasuredTask[]): boolean {
  return tasks.some((t) => t.lagging === true && t.cores < OVER_COST * t.cost);
}

/**
 * How many times the model's cost the tasks on this machine take, from the tasks on air past
 * their ramp-up (on air for `settledMs`): the median of each one's measured cores over its expected cost, none counted
 * above twice (a page held to its ceiling says what it wants, not what the machine is), and never
 * below 1 (the model is a floor, from this project's machine). A machine half as fast as the
 * one the model was calibrated on (2026-11-27: a light 720p15 task took 0.64–0.70 cores against
 * 0.38 expected) has its next task expected at what its tasks take, before it is overloaded.
 * Undefined with nothing measured.
 */
export function measuredCostFactor(tasks: readonly MeasuredTask[], settledMs: number): number | undefined {
  const ratios = tasks
    .filter((t) => t.onAirMs >= settledMs && t.cost > 0)
    .map((t) => Math.min(OVER_COST, t.cores / t.cost))
    .sort((a, b) => a - b);
  if (ratios.length === 0) return undefined;
  const mid = Math.floor(ratios.length / 2);
  const median = ratios.length % 2 === 1 ? (ratios[mid] ?? 1) : ((ratios[mid - 1] ?? 1) + (ratios[mid] ?? 1)) / 2;
  return Math.max(1, median);
}

/** The machine's load as measured: cores busy (averaged over a few seconds) and memory still free. */
export interface LoadGauge {
  readonly cores: number;
  busyCores(): number;
  availableMemoryBytes(): number;
}

export interface AdmissionOptions {
  gauge: LoadGauge;
  /** The share of the node's cores that tasks may fill; the rest absorbs peaks and the service itself. */
  headroom: number;
  /** How long a new task's cost is held on top of what is measured, while it ramps up. */
  rampMs: number;
  /** Cores busy above this share, for `overloadMs` without a break, and the newest task is moved off. */
  overloadShare: number;
  /** The same above this lower share while the tasks lose frames (tasksLag). */
  laggingShare: number;
  overloadMs: number;
  /** After an overload, how long a task is expected to cost what the node's tasks measured then, if that is more. */
  learnMs: number;
  /** How long the gauge takes to no longer count a task that has gone (its averaging window, and a sample more). */
  settleMs?: number;
  /** Memory kept free for the system and the tasks' peaks. */
  memoryReserveBytes: number;
  /** What this node measured before it restarted (measuredCostFactor), until it measures again. */
  costFactor?: number | undefined;
  /** Told every new measurement of the factor, to keep it across restarts. */
  onCostFactor?: ((factor: number) => void) | undefined;
  now?: () => number;
}

/**
 * How a node admits (README, The engine): a new task's cost is held for 10 s, its ramp-up; a
 * node above 94 % of its cores for 20 s moves a task off (measured in CI: four light tasks at
 * 93–95 % already sent one of them at 13.5 of 15 fps), and so does one above 85 % whose tasks
 * lose frames (CI, 2026-11-26: three light tasks at 90–94 % sent 12.8–13.8 fps of 15); for 5
 * minutes after that it expects a task to cost what its tasks measured then; 1 GB of memory
 * stays free.
 */
export const NODE_ADMISSION = { rampMs: 10_000, overloadShare: 0.94, laggingShare: 0.85, overloadMs: 20_000, learnMs: 5 * 60_000, memoryReserveBytes: 2 ** 30 } as const;

/** Admitted with the cores the task is expected to cost (hold them with `admitted`), or why not. */
export type Verdict = { admit: true; cost: number } | { admit: false; why: string };

/**
 * Admission by cost rather than by count, as LiveKit's egress does it: a task is admitted when
 * what the node measures, plus what recently admitted tasks will still add while they ramp up,
 * plus what the new task is expected to cost, stays within the headroom. A node that stays
 * overloaded anyway (pages busier than expected) says so, and its newest task goes back to the
 * waiting line. The two thresholds are apart, so a task moved off is not put straight back.
 */
export class Admission {
  private holds: { until: number; cores: number; memory: number }[] = [];
  private overSince: number | undefined;
  /** What one task measured on this node when it was last overloaded: expected of the next ones for a while. */
  private learned: { cores: number; until: number; why: string } | undefined;
  /** The node when it last said it was overloaded: the cores busy and the tasks on air then. */
  private lastOverload: { busy: number; onAir: number } | undefined;
  /**
   * The task moved off at the last overload, on its way off: the cores the node is busy with
   * once it has gone are what it added, which on a full machine is more than the average task
   * (CI, 2026-11-28: five light tasks at 1.96 cores, 0.39 each, four at 1.33-1.40 once the
   * newest had gone: it had added 0.56-0.63, and admitted again at 1.40 + 0.39 it overloaded the
   * node again, and again, for minutes).
   */
  private leaving: { busy: number; onAir: number; at: number; goneAt?: number } | undefined;
  /**
   * What the tasks on air measured against the model, kept after the last of them has ended (the
   * machine is still the machine) until tasks are measured again.
   */
  private factor: number;
  /** Whether the tasks on air lost frames when last observed (tasksLag). */
  private lagging = false;
  private readonly now: () => number;

  constructor(private readonly o: AdmissionOptions) {
    this.now = o.now ?? Date.now;
    this.factor = o.costFactor ?? 1;
  }

  private held(): { cores: number; memory: number } {
    const now = this.now();
    this.holds = this.holds.filter((h) => h.until > now);
    return this.holds.reduce((sum, h) => ({ cores: sum.cores + h.cores, memory: sum.memory + h.memory }), { cores: 0, memory: 0 });
  }

  /**
   * What a task the model expects at `modelCost` is expected to cost here: scaled by what the
   * tasks on air take against their model cost, and at least what one took at the last
   * overload (for a while after it). With the reason when it is more than the model.
   */
  expectedCost(modelCost: number): { cost: number; why?: string } {
    const learned = this.learned && this.learned.until > this.now() ? this.learned : undefined;
    // While the task moved off is going, what has gone since is at least what it added.
    const added = this.leaving ? this.leaving.busy - this.o.gauge.busyCores() : 0;
    const scaled = modelCost * this.factor;
    if (learned && added > learned.cores && added > scaled) return { cost: added, why: 'what the task moved off at the last overload added here' };
    if (learned && learned.cores > scaled) return { cost: learned.cores, why: learned.why };
    if (this.factor > 1) return { cost: scaled, why: `the model's ${modelCost.toFixed(2)} × ${this.factor.toFixed(2)}, what the tasks on air take here against theirs` };
    return { cost: modelCost };
  }

  /** Whether a task the model expects at `modelCost` cores may start now; with nothing on air, one always may. */
  check(modelCost: number, onAir: number): Verdict {
    const { cost, why: costWhy } = this.expectedCost(modelCost);
    if (onAir === 0) return { admit: true, cost };
    const held = this.held();
    const busy = this.o.gauge.busyCores();
    const budget = this.o.headroom * this.o.gauge.cores;
    if (busy + held.cores + cost > budget) {
      const asked = `${cost.toFixed(2)} more${costWhy ? ` (${costWhy})` : ''}`;
      return { admit: false, why: `${busy.toFixed(2)} cores busy${held.cores > 0 ? ` and ${held.cores.toFixed(2)} held for tasks starting` : ''}, ${asked} would pass ${budget.toFixed(2)} of ${this.o.gauge.cores}` };
    }
    const free = this.o.gauge.availableMemoryBytes() - held.memory;
    if (free - TASK_MEMORY_BYTES < this.o.memoryReserveBytes) {
      return { admit: false, why: `${Math.round(free / 2 ** 20)} MB of memory free, too little for one more task` };
    }
    return { admit: true, cost };
  }

  /** About once a second, the tasks on air as measured: they tell what a task takes on this machine. */
  observe(tasks: readonly MeasuredTask[]): void {
    this.lagging = tasksLag(tasks);
    // Past its ramp-up, and a whole window of the engine's CPU samples (10 s) past that.
    const value = measuredCostFactor(tasks, 2 * this.o.rampMs);
    if (value === undefined) return;
    this.factor = value;
    this.o.onCostFactor?.(value);
  }

  busyCores(): number {
    return this.o.gauge.busyCores();
  }

  /** Whether the tasks on air lost frames when last observed: the why of an overload below the usual line. */
  tasksLag(): boolean {
    return this.lagging;
  }

  /** A task was admitted: its cost counts on top of what is measured for the ramp-up time. */
  admitted(cost: number): void {
    this.holds.push({ until: this.now() + this.o.rampMs, cores: cost, memory: TASK_MEMORY_BYTES });
  }

  /**
   * Called about once a second with the tasks on air, after `observe`: true when the node has
   * been overloaded for `overloadMs` (above `overloadShare` of its cores, or above
   * `laggingShare` while its tasks lose frames) and nothing is still ramping up (a start's own
   * burst is no overload). The count starts again, and what a task took then is expected of the
   * next ones for `learnMs`, so that the task moved off is not put straight back on a node that
   * cannot hold it.
   */
  overloaded(onAir: number): boolean {
    const now = this.now();
    const busy = this.o.gauge.busyCores();
    this.watchLeaving(onAir, busy, now);
    const line = (this.lagging ? this.o.laggingShare : this.o.overloadShare) * this.o.gauge.cores;
    if (busy < line || this.held().cores > 0 || onAir === 0) {
      this.overSince = undefined;
      return false;
    }
    this.overSince ??= now;
    if (now - this.overSince < this.o.overloadMs) return false;
    this.overSince = undefined;
    this.learned = { cores: busy / onAir, until: now + this.o.learnMs, why: 'what a task took here when the node was last overloaded' };
    this.lastOverload = { busy, onAir };
    return true;
  }

  /**
   * The engine moved a task off after `overloaded` said so. What the node measures once it has
   * gone tells what it added, expected of the next task for the rest of `learnMs`; not for a page
   * over twice its cost (`overCost`), which says nothing of the next one.
   */
  movedOff(overCost: boolean): void {
    const last = this.lastOverload;
    this.leaving = !overCost && last ? { ...last, at: this.now() } : undefined;
  }

  private watchLeaving(onAir: number, busy: number, now: number): void {
    const l = this.leaving;
    if (!l) return;
    // Still on its way off (its browser closing), for a while.
    if (onAir === l.onAir && now - l.at < LEAVING_MS) return;
    // Gone, and nothing else came or went: wait until the gauge no longer counts it.
    if (onAir === l.onAir - 1) {
      l.goneAt ??= now;
      if (now - l.goneAt < (this.o.settleMs ?? SETTLE_MS)) return;
      const added = l.busy - busy;
      if (this.learned && this.learned.until > now && added > this.learned.cores) {
        this.learned = { ...this.learned, cores: added, why: 'what the task moved off at the last overload added here' };
      }
    }
    this.leaving = undefined;
  }
}

/** How long a task moved off may take to go before what it added is no longer measured. */
const LEAVING_MS = 30_000;
/** ProcLoadGauge's window (5 s) and a sample more. */
const SETTLE_MS = 6_000;

/** Cores busy on this machine, from /proc/stat, averaged over the last `windowMs`. */
export class ProcLoadGauge implements LoadGauge {
  private samples: { at: number; busy: number; total: number }[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly cores: number,
    private readonly windowMs = 5000,
  ) {}

  start(): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), 500);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private sample(): void {
    // cpu  user nice system idle iowait irq softirq steal ...: idle and iowait are not busy.
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const f = line.trim().split(/\s+/).slice(1, 9).map(Number);
    const total = f.reduce((a, b) => a + b, 0);
    const idle = (f[3] ?? 0) + (f[4] ?? 0);
    const at = Date.now();
    this.samples.push({ at, busy: total - idle, total });
    while (this.samples.length > 2 && (this.samples[1]?.at ?? at) <= at - this.windowMs) this.samples.shift();
  }

  busyCores(): number {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    if (!first || !last || last.total === first.total) return 0;
    return ((last.busy - first.busy) / (last.total - first.total)) * this.cores;
  }

  availableMemoryBytes(): number {
    const kb = /MemAvailable:\s+(\d+) kB/.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1];
    return Number(kb ?? 0) * 1024;
  }
}
