import { spawn, type ChildProcess } from 'node:child_process';
import { statSync } from 'node:fs';
import path from 'node:path';

/** nobody/nogroup on Debian: the user the service's helper processes run as, when it is root. */
const NOBODY = 65534;

/** The file and every folder above it may be read (and the folders entered) by any user. */
function readableByAnyone(file: string): boolean {
  try {
    if ((statSync(file).mode & 0o004) === 0) return false;
    for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
      if ((statSync(dir).mode & 0o005) !== 0o005) return false;
      if (dir === path.dirname(dir)) return true;
    }
  } catch {
    return false;
  }
}

/** The first of `files` that nobody may not read, or undefined when nobody may read them all. */
export const unreadableByNobody = (files: readonly string[]): string | undefined => files.find((f) => !readableByAnyone(f));

/**
 * Starts a Node.js `script` of the service's (TypeScript, through tsx; no flag of the service's
 * own, a test runner's --test say) as a helper process with an IPC channel and no privilege: as
 * nobody when `asNobody`, with none of the service's capabilities (under the systemd unit they
 * are ambient, and a child would inherit them: CAP_SETUID alone lets a process become root),
 * unable to gain any, and killed with the service. `env` is all of its environment but PATH.
 */
export function spawnHelper(script: string, o: { heapMb: number; asNobody: boolean; env: Record<string, string> }): ChildProcess {
  const user = o.asNobody ? [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups'] : [];
  const root = process.getuid?.() === 0;
  const drop = ['--inh-caps=-all', '--ambient-caps=-all', ...(root ? ['--bounding-set=-all'] : []), '--no-new-privs', '--pdeathsig', 'KILL'];
  const node = [process.execPath, '--import', import.meta.resolve('tsx'), `--max-old-space-size=${o.heapMb}`, script];
  return spawn('/usr/bin/setpriv', [...user, ...drop, '--', ...node], {
    env: { PATH: process.env.PATH ?? '', ...o.env },
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    serialization: 'json',
  });
}
