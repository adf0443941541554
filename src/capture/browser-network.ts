import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { setprivAs } from './browser-user.js';

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

/**
 * Makes a browser's network: a user and network namespace of the browser's uid, held by a
 * sleeping process, and slirp4netns joined to it as that uid. `join` is the command line that
 * puts what follows in the browser's cgroups (empty: none); `confine`, what runs slirp4netns in a
 * root and a Landlock domain of its own, as the browser's are: it parses what the browser sends,
 * and code that took it over must find no more of the node there than the browser does.
 */
export async function startOwnNetwork(uid: number, join: readonly string[], confine: readonly string[] = []): Promise<OwnNetwork> {
  const children: ChildProcess[] = [];
  const close = (): void => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  try {
    const run = (command: string[], stdio: StdioOptions, confined: readonly string[] = []): ChildProcess => {
      const [file, ...args] = [...join, ...confined, ...setprivAs(uid, { noNewPrivs: true }), ...command];
      const child = spawn(file ?? '', args, { stdio, env: {} });
      children.push(child);
      return child;
    };
    // No IPv6 in it: slirp4netns carries none, and the link-local address its interface would
    // get gives ICE candidates that lead nowhere.
    const noIpv6 = 'if [ -d /proc/sys/net/ipv6 ]; then echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6 && echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6 || exit 1; fi';
    const holder = run(['/usr/bin/unshare', '--user', '--map-root-user', '--net', '--', '/bin/sh', '-c', `${noIpv6} && echo ready && exec sleep infinity`], ['ignore', 'pipe', 'pipe']);
    await readyOn(holder, 1, 'the browser\'s network namespace');
    const pid = holder.pid ?? 0;
    // Handed over open: in its Landlock domain slirp4netns may not look into a process outside
    // it (the holder), but a namespace file it was given is no file of the domain's to refuse.
    const namespaces = ['user', 'net'].map((kind) => openSync(`/proc/${pid}/ns/${kind}`, 'r'));
    let slirp: ChildProcess;
    try {
      slirp = run(
        [SLIRP4NETNS, '--configure', '--mtu=65520', '--enable-seccomp', '--ready-fd=3', '--userns-path=/proc/self/fd/4', '--netns-type=path', '/proc/self/fd/5', 'tap0'],
        ['ignore', 'ignore', 'pipe', 'pipe', ...namespaces],
        confine,
      );
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
 * Whether browsers can have networks of their own here: slirp4netns is installed, and a
 * browser's uid may make a user namespace and open /dev/net/tun (mode 0666 on Debian; udev sets
 * it, a machine without udev may not). Undefined when they can, else why not.
 */
export async function whyNoOwnNetwork(uid: number): Promise<string | undefined> {
  if (!existsSync(SLIRP4NETNS)) return `${SLIRP4NETNS} is not installed (npm run setup installs it)`;
  try {
    const network = await startOwnNetwork(uid, []);
    network.close();
    return undefined;
  } catch (err) {
    return (err as Error).message;
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
