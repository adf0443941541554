import { readdirSync, readFileSync } from 'node:fs';

/** USER_HZ, what /proc/PID/stat counts CPU time in: 100 on every Linux architecture Debian ships. */
export const TICKS_PER_SECOND = 100;

/** A process's parent and the CPU time it has used (user + system, in ticks); undefined once it is gone. */
export function procStat(pid: number): { ppid: number; ticks: number } | undefined {
  let raw: string;
  try {
    raw = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name may hold spaces and parentheses; the fields start after the last ')'.
  const fields = raw.slice(raw.lastIndexOf(')') + 2).split(' ');
  return { ppid: Number(fields[1]), ticks: (Number(fields[11]) || 0) + (Number(fields[12]) || 0) };
}

/** The processes running on this machine now (those this process may see). */
export function processIds(): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number);
}
