import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { setprivAs, uidOf } from './browser-user.js';
import { processIds, procStat } from './proc-stat.js';

/**
 * A network namespace of its own for each browser. In the node's, code that got out of a page's
 * sandbox reads the machine's socket tables (/proc/net/tcp, udp, unix: every socket's addresses,
 * ports and owner, so which sites the other tasks' pages load through the proxy, and where
 * their WebRTC goes) and its interfaces' counters, which neither Landlock nor a root of its own
 * can take out of the /proc and /sys Chromium needs. In a namespace of its own it sees its own
 * sockets and one interface.
 *
 * The namespace's one way out is slirp4netns, a user-space network stack that makes every
 * connection and datagram the browser sends again as an ordinary socket on the node, as the
 * browser's uid: so the browser firewall's rules for that uid (browser-firewall.ts) apply to it
 * unchanged, and the node's loopback is reached only where they open it (the egress proxy, the
 * media ports of the task's own publication), at the namespace's gateway address. slirp4netns
 * runs as the browser's uid with no capability (the network and user namespaces it joins are a
 * user namespace of that uid's), under its own seccomp filter, with no_new_privs, in the
 * browser's cgroups: it is killed with the browser, and counts against its limits.
 */

export const SLIRP4NETNS = '/usr/bin/slirp4netns';

/** The node's loopback as the browser reaches it (slirp4netns's gateway). */
export const NODE_FROM_BROWSER = '10.0.2.2';
/** slirp4netns's resolver, which asks the node's. */
export const RESOLVER_FROM_BROWSER = '10.0.2.3';

/** How long a network may take to be ready before the launch gives up on it. */
const READY_MS = 10_000;

export interface OwnNetwork {
  /** The namespace, for `nsenter --net=`. */
  readonly netns: string;
  /** Ends its processes (a browser's cgroup's removal ends them too). */
  close(): void;
}

/** Resolves once `child` wrote `what` on the pipe `fd`; rejects when it ends first, with what it said on stderr. */
function readyOn(child: ChildProcess, fd: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
    const timer = setTimeout(() => reject(new Error(`${what} was not ready within ${READY_MS / 1000} s`)), READY_MS);
    const pipe = child.stdio[fd];
    pipe?.once('data', () => {
      clearTimeout(timer);
      resolve();
    });
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      const said = stderr.split('\n').filter((l) => l && !l.startsWith('WARNING')).slice(-3).join('; ');
      reject(new Error(`${what} ended (${signal ?? `exit ${code}`}) before it was ready${said ? `: ${said}` : ''}`));
    });
  });
}

/** slirp4netns's arguments: in the user namespace at fd 4 (unless it is in it already), for the network namespace at fd 5. */
const slirpArgs = (joinsUserNamespace: boolean): string[] => [
  '--configure', '--mtu=65520', '--enable-seccomp', '--ready-fd=3',
  ...(joinsUserNamespace ? ['--userns-path=/proc/self/fd/4'] : []),
  '--netns-type=path', '/proc/self/fd/5', 'tap0',
];

/** What slirp4netns keeps where it runs inside the browser's user namespace: to join its network and make its interface there. */
const IN_BROWSER_USER_NAMESPACE = ['sys_admin', 'net_admin'];

/**
 * Opens the user and network namespaces of process $0 as fds 4 and 5, as whoever runs it, and
 * runs the rest: slirp4netns in its Landlock domain may not look into another process's /proc
 * entry, but a namespace it was handed open is no file of the domain's to refuse.
 */
const OPEN_NAMESPACES = 'exec 4</proc/"$0"/ns/user 5</proc/"$0"/ns/net || exit 1; exec "$@"';

/** Kills what it was given that still runs. */
function closer(children: ChildProcess[]): () => void {
  return () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
}

/**
 * Makes a browser's network where the service is root: a user and network namespace of the
 * browser's uid, held by a sleeping process, and slirp4netns joined to it as that uid. `join` is
 * the command line that puts what follows in the browser's cgroups (empty: none); `confine`, what
 * runs slirp4netns in a root of its own, as the browser's is, and `domain` in a Landlock domain
 * of its own (browser-confinement.ts): it parses what the browser sends, and code that took it
 * over must find no more of the node there than the browser does.
 */
export async function startOwnNetwork(uid: number, join: readonly string[], confine: readonly string[] = [], domain: readonly string[] = []): Promise<OwnNetwork> {
  const children: ChildProcess[] = [];
  const close = closer(children);
  try {
    const [file, ...args] = [...join, ...setprivAs(uid, { noNewPrivs: true }), '/usr/bin/unshare', '--user', '--map-root-user', '--net', '--', '/bin/sh', '-c', 'echo ready && exec sleep infinity'];
    const holder = spawn(file ?? '', args, { stdio: ['ignore', 'pipe', 'pipe'], env: {} });
    children.push(holder);
    await readyOn(holder, 1, 'the browser\'s network namespace');
    const pid = holder.pid ?? 0;
    const namespaces = ['user', 'net'].map((kind) => openSync(`/proc/${pid}/ns/${kind}`, 'r'));
    let slirp: ChildProcess;
    try {
      slirp = spawnSlirp([...join, ...confine, ...setprivAs(uid, { noNewPrivs: true }), ...domain], namespaces, true);
      children.push(slirp);
    } finally {
      for (const fd of namespaces) closeSync(fd);
    }
    await readyOn(slirp, 3, 'slirp4netns');
    return { netns: `/proc/${pid}/ns/net`, close };
  } catch (err) {
    close();
    throw err;
  }
}

/**
 * Gives a way out to the network namespace process `pid` is in, which a user namespace owned by
 * `uid` holds: the one the Landlock helper makes for a browser where the service has no
 * CAP_SYS_ADMIN (webcast-confine.c, `--network`), and which only a process of `uid` outside it
 * may join. slirp4netns runs as `uid`, in the node's network namespace (its sockets are the
 * uid's, under the browser firewall). `confine` builds it a root of its own in the browser's user
 * namespace, entered as its owner at fd 4 (privateRootCommand's `enterFd`), and it keeps there
 * only CAP_SYS_ADMIN and CAP_NET_ADMIN, which govern nothing but the browser's own namespaces;
 * `domain` is its Landlock domain.
 */
export async function joinOwnNetwork(pid: number, uid: number, join: readonly string[], confine: readonly string[], domain: readonly string[]): Promise<OwnNetwork> {
  const slirp = spawnSlirp(
    [...join, ...setprivAs(uid, { noNewPrivs: true }), '/bin/sh', '-c', OPEN_NAMESPACES, String(pid), ...confine, ...domain, ...setprivAs(uid, { noNewPrivs: true, keep: IN_BROWSER_USER_NAMESPACE })],
    [],
    false,
  );
  const close = closer([slirp]);
  try {
    await readyOn(slirp, 3, 'slirp4netns');
    return { netns: `/proc/${pid}/ns/net`, close };
  } catch (err) {
    close();
    throw err;
  }
}

/** slirp4netns after `prefix`, with the namespaces as fds 4 and 5 (given here, or opened by the prefix). */
function spawnSlirp(prefix: readonly string[], namespaces: readonly number[], joinsUserNamespace: boolean): ChildProcess {
  const [file, ...args] = [...prefix, SLIRP4NETNS, ...slirpArgs(joinsUserNamespace)];
  return spawn(file ?? '', args, { stdio: ['ignore', 'ignore', 'pipe', 'pipe', ...namespaces], env: {} });
}

/**
 * Switches IPv6 off in the network namespace it runs in (as its root), for interfaces there and
 * to come: slirp4netns carries none, and the link-local address its interface gets gives ICE
 * candidates that lead nowhere.
 */
export const NO_IPV6 = 'if [ -d /proc/sys/net/ipv6 ]; then echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6 && echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6 || exit 1; fi';

/** Processes under `pid`: its children, theirs, and so on. */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of processIds()) {
    const parent = procStat(entry)?.ppid;
    if (parent !== undefined) children.set(parent, [...(children.get(parent) ?? []), entry]);
  }
  const found: number[] = [];
  for (let queue = [pid]; queue.length > 0;) {
    const next = children.get(queue.shift() as number) ?? [];
    found.push(...next);
    queue = [...queue, ...next];
  }
  return found;
}

/**
 * Makes and ends a browser's network where the Landlock helper makes it in a user namespace, as
 * a launch does; throws why it cannot be made. `inside` is the launch's command line with a
 * program that says "ready" in the place of Chromium, which runs as `uid`; slirp4netns joins it
 * in its root (`confine`) and Landlock `domain`.
 */
export async function tryNetworkInside(inside: readonly string[], uid: number, confine: readonly string[], domain: readonly string[]): Promise<void> {
  const [file, ...args] = inside;
  const child = spawn(file ?? '', args, { stdio: ['ignore', 'pipe', 'pipe'], env: {} });
  try {
    await readyOn(child, 1, 'a browser\'s namespaces with a network of their own');
    const pid = descendants(child.pid ?? 0).find((p) => uidOf(p) === uid);
    if (pid === undefined) throw new Error('the process in the browser\'s namespaces was not found');
    (await joinOwnNetwork(pid, uid, [], confine, domain)).close();
  } finally {
    child.kill('SIGKILL');
  }
}

/**
 * The room's answer as a browser in a network of its own can use it: candidates on the node's
 * IPv4 loopback (the embedded Janus's) are reached at the namespace's gateway, and those on
 * IPv6 loopback, which it cannot reach, are left out. Media goes to the same ports on the node.
 */
export function candidatesFromOwnNetwork(sdp: string): string {
  return sdp
    .split(/(?<=\r?\n)/)
    .filter((line) => !/^a=candidate:\S+ \d+ \S+ \d+ ::1 /i.test(line))
    .map((line) => line.replace(/^(a=candidate:\S+ \d+ \S+ \d+ )127(?:\.\d{1,3}){3}( )/i, `$1${NODE_FROM_BROWSER}$2`))
    .join('');
}
