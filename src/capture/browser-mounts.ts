import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { confineHelperIn, SYSTEM_FOLDERS } from './browser-confinement.js';
import { NO_IPV6, RESOLVER_FROM_BROWSER } from './browser-network.js';

/**
 * Everything a browser can write lives in memory its own cgroup pays for, and goes with it.
 * Its folder (profile, home, temp) is a tmpfs of its own, and it sees the world-writable
 * folders (/tmp, /var/tmp, /dev/shm, /run/lock) as tmpfs of its own, in a mount namespace
 * whose root holds nothing else of the node's but the system's folders, read-only. No page can
 * write anything (its renderer's sandbox has no file system), but code that got out of the
 * sandbox into the browser's processes could otherwise fill the node's disk through its folder
 * or the world-writable folders, leave files in /dev/shm that hold memory after the task, or
 * connect to the node's UNIX socket files. Needs CAP_SYS_ADMIN (root has it), or user namespaces,
 * in which the Landlock helper builds the same for a service without it (privateRootCommand).
 */

/** How the browsers get a root of their own (BrowserPool's `mounts`). */
export type BrowserMounts = 'root' | 'user-namespace' | 'none';

const run = promisify(execFile);

/**
 * Whether this machine lets the helper make a user namespace for a browser of uid `uid` (not
 * where unprivileged user namespaces are switched off, as some distributions do).
 */
export async function canMakeUserNamespaces(helper: string, uid: number, rootUid: number): Promise<boolean> {
  try {
    await run(helper, ['--namespaces', String(uid), String(rootUid), '--', '/bin/true'], { timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}

/** Left in a browser's folder when its namespace could not have a /proc of its own. */
const SHARED_PROC_MARKER = '.proc-shared';

/** Whether the browser whose folder is `dir` runs with the node's /proc (PRIVATE_ROOT could not mount its own). */
export const sharesNodeProc = (dir: string): boolean => existsSync(path.join(dir, SHARED_PROC_MARKER));

/**
 * Run by `unshare --mount --ipc` (or in the namespaces the Landlock helper makes, which have a
 * PID namespace besides) before the browser drops to its uid. The IPC namespace of its
 * own holds the System V shared memory and message queues its processes make, which in the
 * node's would outlive the task, charged to a cgroup that is gone: they end with its last
 * process.
 *
 * The mount namespace gets a root of its own (pivot_root), a tmpfs that holds only what Chromium
 * needs: the system's folders read-only (/usr and /etc without setuid, the merged-/usr links,
 * /sys without the cgroups mounted on it, the font cache, the machine id), a /dev of the few
 * devices it opens, /tmp, /var/tmp, /dev/shm and /run as tmpfs of its own, and its own folder
 * at its path (mounted from the working directory, which still holds it once the new /tmp has
 * hidden its path; `--no-canonicalize` keeps mount from turning "." into that path). Nothing
 * else of the node's exists there: not its home folders, /opt, /srv or the rest of /var, so no UNIX
 * socket file of the node's, which neither file permissions nor Landlock keep it from
 * connecting to, wherever a program put one (PostgreSQL's, D-Bus's, the journal's, /dev/log,
 * Docker's). Its /proc shows only processes of its own uid (`hidepid=invisible`): not the
 * service, Janus or another task's browser, whose command line holds that browser's capture
 * title.
 */
const PRIVATE_ROOT = [
  'dir=$1; bytes=$2; folder=$3; network=$4; devices=$5; shift 5',
  'cd "$dir" || exit 96',
  'umask 022',
  // Binds $1 at $2 read-only, without setuid and devices. In a user namespace a remount may not
  // drop what the source's mount has (locked): its noexec and its atime rule. A standard machine
  // mounts /sys and /run noexec, and "mount --bind -o ro" dropped it: under the systemd unit no
  // browser could start. Where that fails, the bind (or, with mounts under it that a plain bind
  // would uncover, the recursive one) is made read-only keeping those; asked of findmnt only
  // then, as it costs two processes a path (about 4 ms; a dozen paths a launch).
  'bind_ro() { mount --bind -o ro,nosuid,nodev "$1" "$2" 2>/dev/null && return; mountpoint -q "$2" || mount --bind "$1" "$2" 2>/dev/null || mount --rbind "$1" "$2" || return 1',
  '  o=ro,nosuid,nodev; for f in $(findmnt -n -f -o VFS-OPTIONS --mountpoint "$2" | tr , " "); do case $f in noexec|noatime|nodiratime|relatime|strictatime) o=$o,$f;; esac; done; mount -o "remount,bind,$o" "$2"; }',
  // Built on the node's /tmp, which the new root hides anyway.
  'new=/tmp',
  'mount -t tmpfs -o size=1m,mode=755,nosuid,nodev webcast-root "$new" || exit 96',
  // The paths of the node's it holds, read-only (the arguments up to the first "--"): a folder,
  // a file, or a link as it is (the merged-/usr ones). A folder with mounts under it (/sys) is
  // bound with them in a user namespace, which would otherwise uncover what they hide.
  'while [ "$1" != -- ]; do p=$1; shift',
  '  if [ -L "$p" ]; then mkdir -p "$new${p%/*}" && ln -s "$(readlink "$p")" "$new$p" || exit 96',
  '  elif [ -d "$p" ]; then mkdir -p "$new$p" && bind_ro "$p" "$new$p" || exit 96',
  '  elif [ -e "$p" ]; then mkdir -p "$new${p%/*}" && : > "$new$p" && bind_ro "$p" "$new$p" || exit 96',
  '  fi; done; shift',
  // The node's files of secrets, which an operator may have left readable by everyone in /etc:
  // empty in this root (the arguments up to the second "--").
  'while [ "$1" != -- ]; do if [ -f "$new$1" ]; then mount --bind /dev/null "$new$1" || exit 96; fi; shift; done; shift',
  'mkdir -p "$new/tmp" "$new/var/tmp" "$new/dev/shm" "$new/run" "$new/proc" || exit 96',
  // In a network namespace of its own, a /sys of that namespace: its interfaces, not the node's
  // (their names, addresses and traffic counters).
  'if [ "$network" = own ]; then mkdir -p "$new/sys" && mount -t sysfs -o ro,nosuid,nodev,noexec webcast-sys "$new/sys" || exit 96; fi',
  // No IPv6 in its own network, whichever way it was made (browser-network.ts says why).
  `if [ "$network" = own ]; then ${NO_IPV6} || exit 96; fi`,
  'for d in /tmp /var/tmp; do mount -t tmpfs -o "size=$bytes,mode=1777,nosuid,nodev" webcast-tmp "$new$d" || exit 96; done',
  'mount -t tmpfs -o size=64k,mode=755,nosuid webcast-dev "$new/dev" && mkdir -m 1777 "$new/dev/shm" || exit 96',
  'mount -t tmpfs -o "size=$bytes,mode=1777,nosuid,nodev" webcast-tmp "$new/dev/shm" || exit 96',
  'for d in null zero full random urandom tty $devices; do case $d in */*) mkdir -p "$new/dev/${d%/*}" || exit 96;; esac',
  '  : > "$new/dev/$d" && mount --bind "/dev/$d" "$new/dev/$d" || exit 96; done',
  'ln -s /proc/self/fd "$new/dev/fd" && ln -s fd/0 "$new/dev/stdin" && ln -s fd/1 "$new/dev/stdout" && ln -s fd/2 "$new/dev/stderr" || exit 96',
  // A world-writable lock folder as on the node, and the resolver's file where /etc/resolv.conf
  // points into /run (systemd-resolved, resolvconf).
  'mount -t tmpfs -o "size=$bytes,mode=755,nosuid,nodev" webcast-run "$new/run" && mkdir -m 1777 "$new/run/lock" || exit 96',
  'resolv=$(readlink -f /etc/resolv.conf); case "$resolv" in /run/*) mkdir -p "$new${resolv%/*}" && : > "$new$resolv" && bind_ro "$resolv" "$new$resolv" || exit 96;; esac',
  // Its folder: the service's tmpfs, or where the service could not make one (a user
  // namespace), one made here from what the service put in it, which the node does not see.
  'mkdir -p "$new$dir" || exit 96',
  'if [ "$folder" = node ]; then mount --no-canonicalize --bind . "$new$dir" || exit 96',
  // The copy is its uid's, but for the helper's copy, which stays root's: the service's own uid,
  // which owns it on the node, is none of the namespace's.
  'else uid=$(stat -c %u .) && mount -t tmpfs -o "size=$bytes,mode=700,uid=$uid,gid=$uid,nosuid,nodev" webcast-browser "$new$dir" && cp -R --preserve=mode,timestamps . "$new$dir/" || exit 96',
  '  for f in "$new$dir"/*; do chown -R "$uid:$uid" "$f" || exit 96; done; fi',
  // A container that masks parts of /proc forbids a fresh one: the browser then runs with the
  // node's, and says so in its folder (sharesNodeProc) for the service to log.
  `mount -t proc -o hidepid=invisible,nosuid,nodev,noexec webcast-proc "$new/proc" 2>/dev/null || { mount --rbind /proc "$new/proc" && : > "./${SHARED_PROC_MARKER}"; } || exit 96`,
  'mkdir "$new/.node" && cd "$new" && /usr/sbin/pivot_root . .node && umount --lazy /.node && rmdir /.node || exit 96',
  // Its resolver is slirp4netns's, in a network of its own (browser-network.ts): the node's may
  // be on the node's loopback. Bound once in the new root, where a link in /etc leads to its copy.
  `if [ "$network" = own ]; then echo "nameserver ${RESOLVER_FROM_BROWSER}" > /run/webcast-resolv.conf && mount --bind /run/webcast-resolv.conf /etc/resolv.conf || exit 96; fi`,
  'cd / && exec "$@"',
].join('\n');

/** What the root holds of the node's: the system's folders, /sys (without the mounts on it) and the machine id. */
const ROOT_READ_ONLY = [...SYSTEM_FOLDERS, '/sys', '/var/lib/dbus/machine-id'];
/** The same in a network namespace of its own, which mounts a /sys of its own. */
const ROOT_READ_ONLY_OWN_NETWORK = ROOT_READ_ONLY.filter((p) => p !== '/sys');

export interface PrivateRootOptions {
  /**
   * A service without CAP_SYS_ADMIN: the root is built in a user namespace owned by `uid`, whose
   * root is `rootUid` (webcast-confine.c).
   */
  userNamespace?: { uid: number; rootUid: number };
  /**
   * A service without CAP_SYS_ADMIN, for a browser's slirp4netns: the root is built in the
   * browser's user namespace, open at this file descriptor, which the process's uid owns.
   */
  enterFd?: number;
  /** Absolute paths of the node's files that read empty there. */
  hidden: readonly string[];
  /**
   * It runs in a network namespace of its own (browser-network.ts): its /sys and resolver are that
   * network's. In a user namespace, the helper makes it.
   */
  ownNetwork?: boolean;
  /** Devices of the node's it needs besides the six every root has, relative to /dev (slirp4netns's net/tun). */
  devices?: readonly string[];
}

/**
 * The command that runs the rest of a browser's launch line in a root of its own, with its own
 * world-writable folders of at most `bytes` each, and System V IPC of its own, where the files
 * `hidden` are empty. With `userNamespace` (a service without CAP_SYS_ADMIN), in a user namespace
 * of its own, made by the browser's Landlock helper, where only a uid of its own as root and the
 * browser's exist: that root can mount in the namespaces it owns and nowhere else. There the browser's folder is a tmpfs
 * made in its namespace, which the node never sees (the service's copy on disk holds only the
 * empty folders and the helper), and a PID namespace of its own keeps its /proc to itself.
 */
export function privateRootCommand(dir: string, bytes: number, o: PrivateRootOptions): string[] {
  const folder = o.userNamespace === undefined && o.enterFd === undefined ? 'node' : 'own';
  const network = o.ownNetwork ? 'own' : 'node';
  const readOnly = o.ownNetwork ? ROOT_READ_ONLY_OWN_NETWORK : ROOT_READ_ONLY;
  const devices = (o.devices ?? []).join(' ');
  const script = ['/bin/sh', '-c', PRIVATE_ROOT, 'webcast-private-root', dir, String(bytes), folder, network, devices, ...readOnly, '--', ...o.hidden, '--'];
  if (o.enterFd !== undefined) return [confineHelperIn(dir), '--enter', String(o.enterFd), '--', ...script];
  if (o.userNamespace !== undefined) {
    const { uid, rootUid } = o.userNamespace;
    return [confineHelperIn(dir), '--namespaces', String(uid), String(rootUid), ...(o.ownNetwork ? ['--network'] : []), '--', ...script];
  }
  return ['/usr/bin/unshare', '--mount', '--ipc', '--propagation', 'private', '--', ...script];
}

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
