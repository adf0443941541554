import { statSync } from 'node:fs';
import path from 'node:path';

/** nobody/nogroup on Debian: the user the service's helper processes run as, when it is root. */
export const NOBODY = 65534;

/** The file and every folder above it may be read (and the folders entered) by any user. */
export function readableByAnyone(file: string): boolean {
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
 * The command that runs a Node.js `script` of the service's as a helper process with no
 * privilege: as nobody when `asNobody`, with none of the service's capabilities (under the
 * systemd unit they are ambient, and a child would inherit them: CAP_SETUID alone lets a
 * process become root), unable to gain any, and killed with the service.
 */
export function unprivilegedNode(script: string, nodeArgs: readonly string[], asNobody: boolean): { command: string; args: string[] } {
  const user = asNobody ? [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups'] : [];
  const root = process.getuid?.() === 0;
  const drop = ['--inh-caps=-all', '--ambient-caps=-all', ...(root ? ['--bounding-set=-all'] : []), '--no-new-privs', '--pdeathsig', 'KILL'];
  return { command: '/usr/bin/setpriv', args: [...user, ...drop, '--', process.execPath, ...nodeArgs, script] };
}
