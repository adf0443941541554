import { readdirSync, readFileSync } from 'node:fs';
import { procStat, TICKS_PER_SECOND } from '../../src/capture/proc-stat.js';

/** CPU and memory of process trees, read from /proc (Linux). */

export function allPids(): number[] {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number);
}

export function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

/** The processes and all their descendants. */
export function tree(roots: readonly number[]): number[] {
  const children = new Map<number, number[]>();
  for (const pid of allPids()) {
    const s = procStat(pid);
    if (!s) continue;
    children.set(s.ppid, [...(children.get(s.ppid) ?? []), pid]);
  }
  const out = new Set<number>();
  const visit = (p: number): void => {
    if (out.has(p)) return;
    out.add(p);
    for (const c of children.get(p) ?? []) visit(c);
  };
  roots.forEach(visit);
  return [...out];
}

export function pidsWhere(match: (cmd: string) => boolean): number[] {
  return allPids().filter((p) => match(cmdline(p)));
}

export function cpuTicks(pids: readonly number[]): Map<number, number> {
  const m = new Map<number, number>();
  for (const p of pids) {
    const s = procStat(p);
    if (s) m.set(p, s.ticks);
  }
  return m;
}

/** Proportional set size: shared pages split between the processes sharing them. */
export function pssBytes(pids: readonly number[]): number {
  let total = 0;
  for (const p of pids) {
    try {
      const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${p}/smaps_rollup`, 'utf8'));
      if (m?.[1]) total += Number(m[1]) * 1024;
    } catch {
      // gone
    }
  }
  return total;
}

/** CPU cores used by the processes `pids()` names (read at both ends), over `ms` milliseconds. */
export async function measureCores(pids: () => number[], ms: number): Promise<{ cores: number; pssBytes: number }> {
  const before = cpuTicks(pids());
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, ms));
  const list = pids();
  const after = cpuTicks(list);
  const elapsed = (performance.now() - t0) / 1000;
  let ticks = 0;
  for (const [pid, t] of after) ticks += t - (before.get(pid) ?? 0);
  return { cores: ticks / TICKS_PER_SECOND / elapsed, pssBytes: pssBytes(list) };
}

/** A Chromium process's role, from its `--type=` switch: 'gpu-process', 'renderer', 'utility' or 'browser'. */
export function chromiumRole(pid: number): string {
  return /--type=(\S+)/.exec(cmdline(pid))?.[1] ?? 'browser';
}
