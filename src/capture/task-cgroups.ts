import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { procStat, TICKS_PER_SECOND } from './proc-stat.js';

/**
 * One control group per task's browser, so that the kernel bounds what a page can take: its
 * memory (the OOM killer ends a process of that browser alone, usually the page's renderer,
 * when the task is over its limit), its CPU, and how many processes it may have
 * (BROWSER_MAX_PIDS). Every task weighs the same, and each has a CPU ceiling: a fair share
 * alone kept the throughput of a task beside a page that spins every core, but not its timing
 * (its frames come through a chain of processes, each waiting its turn behind the spinning
 * ones: 13.3–14.0 of 15 fps at a viewer), while a ceiling leaves the other tasks cores the hog
 * cannot touch (15.0 fps).
 *
 * Both layouts are handled: cgroup v2 (a Debian 12 host with systemd; the service needs a
 * delegated cgroup, `Delegate=yes`, or root) and the v1 `memory`, `cpu` and (where mounted)
 * `pids` hierarchies.
 */
export interface TaskCgroup {
  /** `cgroup.procs` files a process writes its pid into to join (one per hierarchy). */
  readonly procsFiles: readonly string[];
  /** What the kernel refused or ended in this group at its limits so far. */
  limitsHit(): LimitsHit;
  /** The processes in the group now. */
  pids(): number[];
  /**
   * From the idle weight a group is made with (a warm browser runs only on CPU nobody else
   * wants) to a task's fair share, and at most `ceilingCores` (0: no ceiling).
   */
  runAsTask(ceilingCores: number): void;
  /** Back to the idle weight it was made with (a launch that was hurried with `runAsTask(0)`, now done). */
  runIdle(): void;
  /** How long the ceiling has held the group back so far, in seconds. */
  throttledSeconds(): number;
  /** CPU time its processes used so far, in seconds (where the kernel does not count it for the group, of the processes alive now). */
  cpuSeconds(): number;
  /** Kills what is left in the group and removes it. */
  remove(): Promise<void>;
}

/** What the kernel refused or ended in a browser's group at its limits so far. */
export interface LimitsHit {
  /** Processes ended for want of memory. */
  oomKills: number;
  /** Threads or processes refused at BROWSER_MAX_PIDS. */
  pidsLimitHits: number;
}

export interface CgroupSupport {
  readonly kind: 'v2' | 'v1';
  /** Whether the kernel enforces CPU ceilings here (CFS bandwidth control). */
  readonly cpuCeilings: boolean;
  /** A group at idle priority (see runAsTask). */
  create(name: string, memoryBytes: number): TaskCgroup;
}

const read = (file: string): string => {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
};

const field = (text: string, name: string): number => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);

/** The scheduler's default period; a ceiling is `cores` periods of CPU time per period. */
const CPU_PERIOD_US = 100_000;
const quotaUs = (cores: number): number => Math.max(1000, Math.round(cores * CPU_PERIOD_US));

const processCpuSeconds = (pids: readonly number[]): number => pids.reduce((sum, pid) => sum + (procStat(pid)?.ticks ?? 0), 0) / TICKS_PER_SECOND;

/**
 * Threads and processes one browser may have at once (the kernel's `pids.max`). Chromium keeps
 * about 105-115 with a page; this leaves room for a page's workers and frames of other sites,
 * and holds code that got out of the renderer's sandbox to it: without it, a fork loop fills
 * the machine's table of processes (32768 here), and no browser, Janus or helper of any task
 * can start until it is cleared.
 */
export const BROWSER_MAX_PIDS = 1024;

const pidsIn = (dir: string): number[] => read(path.join(dir, 'cgroup.procs')).split('\n').filter(Boolean).map(Number);

async function removeGroup(dir: string): Promise<void> {
  if (!existsSync(dir)) return;
  for (const child of readdirSync(dir, { withFileTypes: true })) {
    if (child.isDirectory()) await removeGroup(path.join(dir, child.name));
  }
  // Killed processes leave the group once they have exited, which on a busy machine took over
  // the 1 s this once waited (a stop then removed the browsers' folder while one still wrote there).
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    for (const pid of pidsIn(dir)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    try {
      rmdirSync(dir);
      return;
    } catch {
      await sleep(50);
    }
  }
}

/**
 * One removal per group, however often it is asked for: a browser's close and its disconnect
 * both remove its group, and a second removal would poll for the first one's rmdir until its
 * deadline.
 */
function removedOnce(work: () => Promise<void>): () => Promise<void> {
  let removal: Promise<void> | undefined;
  return () => (removal ??= work());
}

/** Our own cgroup in each hierarchy, from /proc/self/cgroup: "4:memory:/a/b", "0::/a/b". */
function ownCgroups(): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of read('/proc/self/cgroup').split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    for (const controller of (m[1] ?? '').split(',')) out.set(controller, m[2] ?? '/');
  }
  return out;
}

function writable(dir: string): boolean {
  try {
    const probe = path.join(dir, `webcast-probe-${process.pid}`);
    mkdirSync(probe);
    rmdirSync(probe);
    return true;
  } catch {
    return false;
  }
}

class V1Groups implements CgroupSupport {
  readonly kind = 'v1';
  readonly cpuCeilings: boolean;
  /** cpuacct counts for our groups where it is mounted with cpu; mounted apart, it has no group of ours. */
  private readonly cpuacct: boolean;
  constructor(
    private readonly memoryBase: string,
    private readonly cpuBase: string,
    /** Undefined where the kernel has no pids controller for us. */
    private readonly pidsBase: string | undefined,
    private readonly prefix: string,
  ) {
    this.cpuCeilings = existsSync(path.join(cpuBase, 'cpu.cfs_quota_us'));
    this.cpuacct = existsSync(path.join(cpuBase, 'cpuacct.usage'));
  }

  create(name: string, memoryBytes: number): TaskCgroup {
    const memory = path.join(this.memoryBase, `${this.prefix}-${name}`);
    const cpu = path.join(this.cpuBase, `${this.prefix}-${name}`);
    const pids = this.pidsBase && path.join(this.pidsBase, `${this.prefix}-${name}`);
    mkdirSync(memory);
    mkdirSync(cpu);
    if (pids) {
      mkdirSync(pids);
      writeFileSync(path.join(pids, 'pids.max'), String(BROWSER_MAX_PIDS));
    }
    writeFileSync(path.join(memory, 'memory.limit_in_bytes'), String(memoryBytes));
    // Swap would let a page outgrow its limit slowly instead of being stopped.
    if (existsSync(path.join(memory, 'memory.memsw.limit_in_bytes'))) writeFileSync(path.join(memory, 'memory.memsw.limit_in_bytes'), String(memoryBytes));
    writeFileSync(path.join(cpu, 'cpu.shares'), '2');
    return {
      runAsTask: (ceilingCores) => {
        writeFileSync(path.join(cpu, 'cpu.shares'), '1024');
        if (ceilingCores > 0 && this.cpuCeilings) {
          writeFileSync(path.join(cpu, 'cpu.cfs_period_us'), String(CPU_PERIOD_US));
          writeFileSync(path.join(cpu, 'cpu.cfs_quota_us'), String(quotaUs(ceilingCores)));
        }
      },
      runIdle: () => writeFileSync(path.join(cpu, 'cpu.shares'), '2'),
      throttledSeconds: () => field(read(path.join(cpu, 'cpu.stat')), 'throttled_time') / 1e9,
      cpuSeconds: () => (this.cpuacct ? Number(read(path.join(cpu, 'cpuacct.usage'))) / 1e9 : processCpuSeconds(pidsIn(memory))),
      procsFiles: [memory, cpu, ...(pids ? [pids] : [])].map((dir) => path.join(dir, 'cgroup.procs')),
      limitsHit: () => ({
        oomKills: field(read(path.join(memory, 'memory.oom_control')), 'oom_kill'),
        pidsLimitHits: pids ? field(read(path.join(pids, 'pids.events')), 'max') : 0,
      }),
      pids: () => pidsIn(memory),
      remove: removedOnce(async () => {
        await removeGroup(memory);
        await removeGroup(cpu);
        if (pids) await removeGroup(pids);
      }),
    };
  }
}

class V2Groups implements CgroupSupport {
  readonly kind = 'v2';
  /** prepareV2 enables the cpu controller for our groups, or they are not used at all. */
  readonly cpuCeilings = true;
  constructor(private readonly base: string, private readonly prefix: string) {}

  create(name: string, memoryBytes: number): TaskCgroup {
    const dir = path.join(this.base, `${this.prefix}-${name}`);
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'memory.max'), String(memoryBytes));
    writeFileSync(path.join(dir, 'memory.swap.max'), '0');
    if (existsSync(path.join(dir, 'pids.max'))) writeFileSync(path.join(dir, 'pids.max'), String(BROWSER_MAX_PIDS));
    writeFileSync(path.join(dir, 'cpu.weight'), '1');
    return {
      runAsTask: (ceilingCores) => {
        writeFileSync(path.join(dir, 'cpu.weight'), '100');
        if (ceilingCores > 0) writeFileSync(path.join(dir, 'cpu.max'), `${quotaUs(ceilingCores)} ${CPU_PERIOD_US}`);
      },
      runIdle: () => writeFileSync(path.join(dir, 'cpu.weight'), '1'),
      throttledSeconds: () => field(read(path.join(dir, 'cpu.stat')), 'throttled_usec') / 1e6,
      cpuSeconds: () => field(read(path.join(dir, 'cpu.stat')), 'usage_usec') / 1e6,
      procsFiles: [path.join(dir, 'cgroup.procs')],
      limitsHit: () => ({ oomKills: field(read(path.join(dir, 'memory.events')), 'oom_kill'), pidsLimitHits: field(read(path.join(dir, 'pids.events')), 'max') }),
      pids: () => pidsIn(dir),
      remove: removedOnce(() => removeGroup(dir)),
    };
  }
}

/** Removes the groups named `prefix-…` that a killed earlier run left under `base`. */
async function removeStale(base: string, prefix: string): Promise<void> {
  for (const child of existsSync(base) ? readdirSync(base, { withFileTypes: true }) : []) {
    if (child.isDirectory() && child.name.startsWith(`${prefix}-`)) await removeGroup(path.join(base, child.name));
  }
}

/**
 * cgroup v2 forbids processes in a group whose children get controllers, so the service moves
 * itself into a leaf of its own group first (systemd's delegation works the same way).
 */
function prepareV2(base: string): boolean {
  if (!read(path.join(base, 'cgroup.controllers')).split(/\s+/).includes('memory')) return false;
  if (!writable(base)) return false;
  try {
    if (pidsIn(base).length > 0) {
      const leaf = path.join(base, 'webcast-service');
      mkdirSync(leaf, { recursive: true });
      for (const pid of pidsIn(base)) writeFileSync(path.join(leaf, 'cgroup.procs'), String(pid));
    }
    const pids = read(path.join(base, 'cgroup.controllers')).split(/\s+/).includes('pids') ? ' +pids' : '';
    writeFileSync(path.join(base, 'cgroup.subtree_control'), `+memory +cpu${pids}`);
    return true;
  } catch {
    return false;
  }
}

/**
 * Finds where this process may make task groups: beside its own processes (so that a group's
 * CPU weight counts against them too: a spare browser at idle weight yields to everything
 * else), named `prefix-…` (one prefix per data folder), after removing what a killed earlier
 * run left. Undefined when neither layout is open to us (not root and nothing delegated):
 * limits are then not enforced.
 */
export async function openCgroups(prefix: string): Promise<CgroupSupport | undefined> {
  const own = ownCgroups();
  if (existsSync('/sys/fs/cgroup/cgroup.controllers')) {
    const base = path.join('/sys/fs/cgroup', own.get('') ?? '/');
    await removeStale(base, prefix);
    return prepareV2(base) ? new V2Groups(base, prefix) : undefined;
  }
  const memoryBase = path.join('/sys/fs/cgroup/memory', own.get('memory') ?? '/');
  const cpuBase = path.join('/sys/fs/cgroup/cpu', own.get('cpu') ?? '/');
  if (!existsSync(path.join(memoryBase, 'cgroup.procs')) || !existsSync(path.join(cpuBase, 'cgroup.procs'))) return undefined;
  if (!writable(memoryBase) || !writable(cpuBase)) return undefined;
  const ownPids = path.join('/sys/fs/cgroup/pids', own.get('pids') ?? '/');
  const pidsBase = existsSync(path.join(ownPids, 'cgroup.procs')) && writable(ownPids) ? ownPids : undefined;
  await removeStale(memoryBase, prefix);
  await removeStale(cpuBase, prefix);
  if (pidsBase) await removeStale(pidsBase, prefix);
  return new V1Groups(memoryBase, cpuBase, pidsBase, prefix);
}
