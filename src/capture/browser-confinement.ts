import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/**
 * A Landlock domain around each browser (confine/webcast-confine.c, built by `npm run setup`).
 * Its uid, namespaces and folders keep code that got out of a page's sandbox from the other
 * tasks, but not from what any local user may read: the service's install folder, other
 * programs' files, the cgroups of the other browsers (which pids they hold, how much memory they
 * use), or a UNIX socket in the abstract namespace, which has no permissions at all. Inside the
 * domain the browser reads only the system's own folders and writes only its own, and (Linux
 * 6.12 and later) reaches no abstract socket and signals no process made outside it.
 */

/** Where `npm run setup` builds the helper. */
export const CONFINE_HELPER = fileURLToPath(new URL('../../.deps/webcast-confine', import.meta.url));

/** Landlock ABI 6 (Linux 6.12) scopes abstract UNIX sockets and signals to the domain. */
export const SCOPED_ABI = 6;

export interface Confinement {
  helper: string;
  /** The kernel's Landlock ABI (1 or more). */
  abi: number;
}

/** What the machine allows: a confinement, or why there is none. */
export async function probeConfinement(helper = CONFINE_HELPER): Promise<{ confinement?: Confinement; missing?: string }> {
  if (!existsSync(helper)) return { missing: `${helper} is not built (npm run setup builds it)` };
  try {
    const { stdout } = await promisify(execFile)(helper, ['--abi'], { encoding: 'utf8', timeout: 5000 });
    const abi = Number(stdout.trim());
    if (!Number.isInteger(abi) || abi < 1) return { missing: 'the kernel has no Landlock (Linux 5.13 or later, with landlock among its security modules)' };
    return { confinement: { helper, abi } };
  } catch (err) {
    return { missing: `${helper} --abi failed: ${(err as Error).message}` };
  }
}

/**
 * The helper runs from a copy in the browser's folder (made by the launch, root's): where the
 * service is installed under /tmp or /var/tmp (a CI's clone), the browser's mount namespace has
 * hidden its own path by the time the helper runs, and its folder is the one path of the node's
 * it still sees.
 */
export const confineHelperIn = (dir: string): string => path.join(dir, '.webcast-confine');

/**
 * The system's folders Chromium reads: its program and libraries, fonts, locales, certificates
 * and the system's settings (/usr, /etc and the merged-/usr links), and the font cache. Both the
 * domain and the browser's root of its own (browser-mounts.ts) hold these.
 */
export const SYSTEM_FOLDERS = ['/usr', '/etc', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/var/cache/fontconfig'];

/**
 * What Chromium reads: the system's folders, the machine id, the resolver's file where
 * /etc/resolv.conf points into /run, and of /sys only devices (CPUs, memory nodes), not its
 * cgroups, kernel or firmware.
 */
const READ_ONLY = [
  ...SYSTEM_FOLDERS, '/var/lib/dbus', '/run/systemd/resolve', '/run/resolvconf',
  '/sys/devices', '/sys/bus', '/sys/class', '/sys/dev',
];

/**
 * What it writes: its own folder, /dev (/dev/null, /dev/shm; the permissions of the files
 * there still apply), /proc (its sandbox writes its namespaces' uid maps and its renderers'
 * OOM scores, which the kernel allows only for its own processes), and the world-writable
 * folders where they are tmpfs of its own (browser-mounts.ts): elsewhere they are the node's.
 */
export function confineCommand(dir: string, privateTmp: boolean): string[] {
  const writable = [dir, '/dev', '/proc', ...(privateTmp ? ['/tmp', '/var/tmp', '/run/lock'] : [])];
  return [confineHelperIn(dir), ...READ_ONLY.flatMap((p) => ['--ro', p]), ...writable.flatMap((p) => ['--rw', p]), '--'];
}

/**
 * The Landlock domain of a browser's slirp4netns (browser-network.ts), which parses every packet
 * the browser sends: it reads the system's folders (its libraries, the resolver's settings) and
 * /dev/urandom, and opens /dev/net/tun, and nothing else. Not /proc: where it runs in the node's mount namespace
 * (a service without CAP_SYS_ADMIN), that /proc holds the machine's socket tables and every
 * process's command line. The namespaces it joins are handed to it open (/proc/self/fd).
 */
export function networkStackDomain(dir: string): string[] {
  // /dev/urandom: its random numbers (refused, it went on without them, 2026-11-28).
  const readOnly = [...SYSTEM_FOLDERS, '/run/systemd/resolve', '/run/resolvconf', '/dev/urandom'];
  return [confineHelperIn(dir), ...readOnly.flatMap((p) => ['--ro', p]), '--rw', '/dev/net/tun', '--'];
}
