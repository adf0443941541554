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
 * The most CPU a task's browser may use unless WEBCAST_TASK_CPU_MILLICORES says otherwise:
 * twice what it is expected to cost (a page that draws or runs more than the model knows has
 * room: 1080p30 measured 0.94 cores against 0.65 expected), and at least one core, so that a
 * light page's own scripts are never what holds it back.
 */
export function taskCpuCeiling(solutions: readonly VideoSolution[]): number {
  return Math.max(1, OVER_COST * taskCost(solutions));
}

/** What an overloaded node knows of each task on air when it picks one to move off. */
export interface OnAirTask {
  /** When it came on air, in ms on any one clock. */
  onAirAt: number;
  /** The cores its browser used over the last seconds; undefined before it was measured. */
  cores: number | undefined;
  /** What it was expected to cost (taskCost). */
  cost: number;
}

/**
 * The task an overloaded node moves off: the one furthest over its expected cost, if one uses
 * at least twice that (a page that wants more than its layers' share is what made the node
 * busier than its costs said), and where none does, the newest. So a page that starts spinning
 * after it was admitted cannot push out a well-behaved task that came after it. (Not the
 * task its ceiling holds back: on a full node, the fair share keeps a spinning page under its
 * ceiling, measured at 1.96 cores busy of 2.)
 */
export function taskToMoveOff<T extends OnAirTask>(onAir: readonly T[]): { task: T; overCost: boolean } | undefined {
  const over = (t: T): number => (t.cores ?? 0) / t.cost;
  const hog = onAir.reduce<T | undefined>((a, b) => (over(b) >= OVER_COST && (!a || over(b) > over(a)) ? b : a), undefined);
  if (hog) return { task: hog, overCost: true };
  const newest = onAir.reduce<T | undefined>((a, b) => (!a || b.onAirAt > a.onAirAt ? b : a), undefined);
  return newest && { task: newest, overCost: false };
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
  overloadMs: number;
  /** After an overload, how long a task is expected to cost what the node's tasks measured then, if that is more. */
  learnMs: number;
  /** Memory kept free for the system and the tasks' peaks. */
  memoryReserveBytes: number;
  now?: () => number;
}

/**
 * How a node admits (README, The engine): a new task's cost is held for 10 s, its ramp-up; a
 * node above 94 % of its cores for 20 s moves a task off (measured in CI: four light tasks at
 * 93–95 % already sent one of them at 13.5 of 15 fps), and for 5 minutes after that expects a
 * task to cost what its tasks measured then; 1 GB of memory stays free.
 */
export const NODE_ADMISSION = { rampMs: 10_000, overloadShare: 0.94, overloadMs: 20_000, learnMs: 5 * 60_000, memoryReserveBytes: 2 ** 30 } as const;

export type Verdict = { admit: true } | { admit: false; why: string };

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
  private learned: { cores: number; until: number } | undefined;
  private readonly now: () => number;

  constructor(private readonly o: AdmissionOptions) {
    this.now = o.now ?? Date.now;
  }

  private held(): { cores: number; memory: number } {
    const now = this.now();
    this.holds = this.holds.filter((h) => h.until > now);
    return this.holds.reduce((sum, h) => ({ cores: sum.cores + h.cores, memory: sum.memory + h.memory }), { cores: 0, memory: 0 });
  }

  /** Whether a task of `cost` cores may start now; with nothing on air, one always may. */
  check(modelCost: number, onAir: number): Verdict {
    if (onAir === 0) return { admit: true };
    const held = this.held();
    const busy = this.o.gauge.busyCores();
    const budget = this.o.headroom * this.o.gauge.cores;
    const learned = this.learned && this.learned.until > this.now() ? this.learned.cores : 0;
    const cost = Math.max(modelCost, learned);
    if (busy + held.cores + cost > budget) {
      const asked = `${cost.toFixed(2)} more${cost > modelCost ? ' (what a task took here when the node was last overloaded)' : ''}`;
      return { admit: false, why: `${busy.toFixed(2)} cores busy${held.cores > 0 ? ` and ${held.cores.toFixed(2)} held for tasks starting` : ''}, ${asked} would pass ${budget.toFixed(2)} of ${this.o.gauge.cores}` };
    }
    const free = this.o.gauge.availableMemoryBytes() - held.memory;
    if (free - TASK_MEMORY_BYTES < this.o.memoryReserveBytes) {
      return { admit: false, why: `${Math.round(free / 2 ** 20)} MB of memory free, too little for one more task` };
    }
    return { admit: true };
  }

  busyCores(): number {
    return this.o.gauge.busyCores();
  }

  /** A task was admitted: its cost counts on top of what is measured for the ramp-up time. */
  admitted(cost: number): void {
    this.holds.push({ until: this.now() + this.o.rampMs, cores: cost, memory: TASK_MEMORY_BYTES });
  }

  /**
   * Called about once a second with the tasks on air: true when the node has been overloaded
   * for `overloadMs` and nothing is still ramping up (a start's own burst is no overload). The
   * count starts again, and what a task took then is expected of the next ones for `learnMs`,
   * so that the task moved off is not put straight back on a node that cannot hold it.
   */
  overloaded(onAir: number): boolean {
    const now = this.now();
    const busy = this.o.gauge.busyCores();
    if (busy < this.o.overloadShare * this.o.gauge.cores || this.held().cores > 0 || onAir === 0) {
      this.overSince = undefined;
      return false;
    }
    this.overSince ??= now;
    if (now - this.overSince < this.o.overloadMs) return false;
    this.overSince = undefined;
    this.learned = { cores: busy / onAir, until: now + this.o.learnMs };
    return true;
  }
}

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
