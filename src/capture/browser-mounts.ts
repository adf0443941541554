import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

/**
 * Everything a browser can write lives in memory its own cgroup pays for, and goes with it.
 * Its folder (profile, home, temp) is a tmpfs of its own, and it sees the world-writable
 * folders (/tmp, /var/tmp, /dev/shm, /run/lock) as tmpfs of its own, in a mount namespace of
 * its own. No page can write anything (its renderer's sandbox has no file system), but code
 * that got out of the sandbox into the browser's processes could otherwise fill the node's disk
 * through its folder or the world-writable folders, or leave files in /dev/shm that hold memory
 * after the task. Needs
 * CAP_SYS_ADMIN (root has it).
 */

/** Left in a browser's folder when its namespace could not have a /proc of its own. */
const SHARED_PROC_MARKER = '.proc-shared';

/** Whether the browser whose folder is `dir` runs with the node's /proc (PRIVATE_TMP could not mount its own). */
export const sharesNodeProc = (dir: string): boolean => existsSync(path.join(dir, SHARED_PROC_MARKER));

/**
 * Run by `unshare --mount --ipc` before the browser drops to its uid. The IPC namespace of its
 * own holds the System V shared memory and message queues its processes make, which in the
 * node's would outlive the task, charged to a cgroup that is gone: they end with its last
 * process. The mount namespace: the world-writable folders and /run become tmpfs of this
 * browser's, then its own folder, hidden by the new /tmp, is mounted back where it was from the
 * working directory, which still holds it (`--no-canonicalize`: mount would otherwise turn "."
 * into its path, which now names the new /tmp's empty folder). Its /proc shows only processes
 * of its own uid (`hidepid=invisible`): not the service, Janus or another task's browser, whose
 * command line holds that browser's capture title.
 */
const PRIVATE_TMP = [
  'dir=$1; bytes=$2; shift 3',
  'cd "$dir" || exit 96',
  'umask 022',
  'for d in /tmp /var/tmp /dev/shm; do [ -d "$d" ] || continue; mount -t tmpfs -o "size=$bytes,mode=1777,nosuid,nodev" webcast-tmp "$d" || exit 96; done',
  // /run holds the machine's UNIX socket files (PostgreSQL's, D-Bus's, the journal's), which
  // Landlock does not keep it from connecting to: a tmpfs of its own, with a world-writable
  // lock folder as on the node, and the resolver's file where /etc/resolv.conf points into it.
  'resolv=$(readlink -f /etc/resolv.conf); case "$resolv" in /run/*) : > .resolv.conf && mount --bind "$resolv" .resolv.conf || exit 96;; *) resolv=;; esac',
  'mount -t tmpfs -o "size=$bytes,mode=755,nosuid,nodev" webcast-run /run && mkdir -m 1777 /run/lock || exit 96',
  '[ -z "$resolv" ] || { mkdir -p "${resolv%/*}" && : > "$resolv" && mount --move .resolv.conf "$resolv" && rm .resolv.conf; } || exit 96',
  'mkdir -p "$dir" && mount --no-canonicalize --bind . "$dir" || exit 96',
  // A container that masks parts of /proc forbids a fresh one: the browser then runs with the
  // node's, and says so in its folder (sharesNodeProc) for the service to log.
  `mount -t proc -o hidepid=invisible,nosuid,nodev,noexec webcast-proc /proc 2>/dev/null || : > "$dir/${SHARED_PROC_MARKER}"`,
  'cd / && exec "$@"',
].join('\n');

/** The command that runs the rest of a browser's launch line with its own world-writable folders of at most `bytes` each, and System V IPC of its own. */
export function privateTmpCommand(dir: string, bytes: number): string[] {
  return ['/usr/bin/unshare', '--mount', '--ipc', '--propagation', 'private', '--', '/bin/sh', '-c', PRIVATE_TMP, 'webcast-private-tmp', dir, String(bytes), '--'];
}

const run = promisify(execFile);

/** Puts a browser's (empty) folder in memory: a tmpfs of at most `bytes`, its uid's alone. */
export async function mountFolderInMemory(dir: string, bytes: number, uid: number): Promise<void> {
  await run('/usr/bin/mount', ['-t', 'tmpfs', '-o', `size=${bytes},mode=0700,uid=${uid},gid=${uid},nosuid,nodev`, 'webcast-browser', dir]);
}

/** Mount points at or under `root`, deepest first, from this process's mountinfo. */
export function mountsUnder(root: string): string[] {
  const unescape = (p: string): string => p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => unescape(line.split(' ')[4] ?? ''))
    .filter((p) => p === root || p.startsWith(`${root}/`))
    .sort((a, b) => b.length - a.length);
}

/**
 * Unmounts what is mounted at or under `root` (a closed browser's folder, or all of a killed
 * run's; removeFolder does it first). Lazily: a process that still held a file there would
 * otherwise keep the folder, and its memory, from going; the memory goes with its last user.
 */
export async function unmountUnder(root: string): Promise<void> {
  for (const point of mountsUnder(root)) {
    // Another removal (a browser's own folder's, beside the pool's root's) may have unmounted it first.
    await run('/usr/bin/umount', ['--lazy', point]).catch((err: unknown) => {
      if (mountsUnder(point).includes(point)) throw err;
    });
  }
}
