import { readFileSync, readlinkSync } from 'node:fs';
import { processIds } from './proc-stat.js';

/**
 * Which PID namespace a process is in, and whether a process of another namespace runs, as far
 * as this one can see: nodes on one network may each run in a PID namespace of its own
 * (containers with the host's network), and a pid tells something only in its own namespace.
 */

/** The initial PID namespace's inode (PROC_PID_INIT_INO): from there, every process of the machine is seen. */
export const INITIAL_PID_NAMESPACE = 0xeffffffc;

/**
 * The inode of a process's PID namespace; 'hidden' when it is not ours to see (another user's
 * process, without CAP_SYS_PTRACE); undefined when the process is gone or has none (a zombie).
 */
export function pidNamespaceOf(pid: number | 'self'): number | 'hidden' | undefined {
  try {
    return Number(/^pid:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/ns/pid`))?.[1]);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'EACCES' || code === 'EPERM' ? 'hidden' : undefined;
  }
}

/** What this machine's processes say of a process `pid` of PID namespace `ns`, as seen from ours. */
export interface NamespaceView {
  /** The PID namespace this node runs in. */
  own: number;
  /** Each process: the inode of its PID namespace ('hidden': in another, not ours to see) and its pid in that namespace. */
  processes(): { pidNamespace: number | 'hidden'; pidThere: number }[];
}

/**
 * Whether the node of a tag from another PID namespace runs: 'live' when its process is seen,
 * 'dead' when its namespace is seen without it or, from the initial namespace (which sees every
 * process), is gone, else 'unknown': a node in a container of its own on the same network, which
 * another container cannot see. Nodes on one network (containers with the host's network) share
 * the firewall's chains; a node must never take a live one's rules for a dead node's: its
 * browsers would lose their confinement.
 */
export function foreignNodeState(pid: number, ns: number, view: NamespaceView): 'live' | 'dead' | 'unknown' {
  let seen = false;
  let maybe = false;
  for (const p of view.processes()) {
    if (p.pidNamespace === ns) {
      if (p.pidThere === pid) return 'live';
      seen = true;
    } else if (p.pidNamespace === 'hidden' && p.pidThere === pid) {
      maybe = true;
    }
  }
  if (maybe) return 'unknown';
  return seen || view.own === INITIAL_PID_NAMESPACE ? 'dead' : 'unknown';
}

/**
 * This machine's processes as /proc shows them: each one's PID namespace and its pid there
 * (NSpid's last field). Read once, when first asked: one view serves every rule of a listing.
 */
export function machineView(own: number): NamespaceView {
  let seen: ReturnType<NamespaceView['processes']> | undefined;
  return { own, processes: () => (seen ??= readProcesses(own)) };
}

const readProcesses = (own: number): ReturnType<NamespaceView['processes']> =>
  processIds().flatMap((pid) => {
    let status: string;
    try {
      status = readFileSync(`/proc/${pid}/status`, 'utf8');
    } catch {
      return [];
    }
    // NSpid: its pid in each namespace from ours down to its own; one alone, it is in ours.
    const nspid = (/^NSpid:\s+(.*)$/m.exec(status)?.[1] ?? String(pid)).trim().split(/\s+/);
    const pidThere = Number(nspid.at(-1));
    const pidNamespace = pidNamespaceOf(pid);
    if (pidNamespace === undefined) return [];
    return [{ pidNamespace: pidNamespace === 'hidden' && nspid.length === 1 ? own : pidNamespace, pidThere }];
  });
