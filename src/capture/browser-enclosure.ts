import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { confineCommand, confineHelperIn, networkStackDomain, type Confinement } from './browser-confinement.js';
import { mountFolderInMemory, privateRootCommand, type BrowserMounts } from './browser-mounts.js';
import { joinOwnNetwork, SLIRP4NETNS, startOwnNetwork, tryNetworkInside, type OwnNetwork } from './browser-network.js';
import { setprivAs, uidOf, type BrowserUidPool } from './browser-user.js';
import { processIds } from './proc-stat.js';
import { FOLDER_REMOVAL_MS, removeFolder } from './remove-folder.js';
import type { TaskCgroup } from './task-cgroups.js';

/**
 * What encloses one task's browser before Chromium runs in it: its uids, its folder, its
 * namespaces with a root of its own, its Landlock domain and its network (README: Security
 * model). The browser pool launches Chromium inside; this says how.
 */

export interface EnclosureOptions {
  uids: BrowserUidPool;
  /** How each browser gets a root of its own (browser-mounts.ts). */
  mounts: BrowserMounts;
  /** The most memory one task's browser may use: its folder in memory is bounded by it too. */
  memoryBytes: number;
  /** The node's files of secrets, empty in each browser's root. */
  hiddenFiles: readonly string[];
  /** The Landlock domain each browser runs in, where the kernel has one. */
  confinement?: Confinement;
  /** The program that makes each browser's user namespace (mounts `user-namespace`): the Landlock helper's. */
  namespaceHelper?: string;
}

/** One browser's folder and uids, before it is launched. */
export interface Enclosure {
  dir: string;
  /** Its uid; undefined = the service's. */
  uid: number | undefined;
  /** How it gets a root of its own, with that uid. */
  ownRoot: { kind: BrowserMounts; uid: number } | undefined;
  /** Where the Landlock helper makes its namespaces: a user namespace of `uid` with `rootUid` as root. */
  userNamespace: { uid: number; rootUid: number } | undefined;
  /** It gets a network namespace of its own. */
  ownNetwork: boolean;
  /** Gives its uids back to the pool, once nothing of it runs. */
  giveUids(): void;
}

/**
 * The browser process of the Chromium whose folder is `dir`, running as `uid`: not one of its
 * helpers (`--type=`), nor the launch's wrappers, which name the same folder as other users.
 */
function browserProcess(dir: string, uid: number, cgroup: TaskCgroup | undefined): number | undefined {
  const flag = `--user-data-dir=${path.join(dir, 'profile')}`;
  const candidates = cgroup?.pids() ?? processIds();
  return candidates.find((pid) => {
    try {
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      return args.includes(flag) && !args.some((a) => a.startsWith('--type=')) && uidOf(pid) === uid;
    } catch {
      return false;
    }
  });
}

export class Enclosures {
  /** Each browser in a network namespace of its own: set once a probe found that it works here (whyNoOwnNetwork). */
  ownNetworks = false;

  constructor(private readonly o: EnclosureOptions) {}

  /**
   * A browser's folder, made and handed to its uid, with the Landlock helper's copy, and the uids
   * it runs as (given back here on failure).
   */
  async prepare(dir: string, wantsNetwork = this.ownNetworks): Promise<Enclosure> {
    const sub = ['profile', 'home', 'tmp', 'downloads'];
    const uid = this.o.uids.take();
    // A root of its own needs a uid of its own to drop to.
    const ownRoot = uid !== undefined && this.o.mounts !== 'none' ? { kind: this.o.mounts, uid } : undefined;
    // In a user namespace, a second uid of its own is that namespace's root (webcast-confine.c).
    let rootUid: number | undefined;
    const giveUids = (): void => {
      this.o.uids.give(uid);
      this.o.uids.give(rootUid);
    };
    try {
      if (ownRoot?.kind === 'user-namespace') rootUid = this.o.uids.take();
      mkdirSync(dir, { mode: 0o700 });
      if (ownRoot?.kind === 'root') await mountFolderInMemory(dir, this.o.memoryBytes, ownRoot.uid);
      for (const s of sub) mkdirSync(path.join(dir, s), { mode: 0o700 });
      if (uid !== undefined) for (const p of [dir, ...sub.map((s) => path.join(dir, s))]) chownSync(p, uid, uid);
      // The helper makes the namespaces of a browser without CAP_SYS_ADMIN whether or not the
      // kernel has Landlock, and its domain where it has.
      const helper = this.o.confinement?.helper ?? (ownRoot?.kind === 'user-namespace' ? this.o.namespaceHelper : undefined);
      if (helper) {
        copyFileSync(helper, confineHelperIn(dir));
        chmodSync(confineHelperIn(dir), 0o755);
      }
    } catch (err) {
      giveUids();
      throw err;
    }
    const userNamespace = ownRoot?.kind === 'user-namespace' && rootUid !== undefined ? { uid: ownRoot.uid, rootUid } : undefined;
    return { dir, uid, ownRoot, userNamespace, ownNetwork: wantsNetwork && (ownRoot?.kind === 'root' || userNamespace !== undefined), giveUids };
  }

  /**
   * What runs a browser's command in its namespaces, root of its own and Landlock domain, as its
   * uid: `network`, the one root made before (else, in a user namespace, the helper makes it).
   */
  command(e: Enclosure, network: OwnNetwork | undefined): string[] {
    const { dir, ownRoot, userNamespace, ownNetwork } = e;
    return [
      ...(network ? ['/usr/bin/nsenter', `--net=${network.netns}`, '--'] : []),
      ...(ownRoot ? privateRootCommand(dir, this.o.memoryBytes, { userNamespace, hidden: this.o.hiddenFiles, ownNetwork }) : []),
      // After the mounts (no process in a domain may mount) and before the uid drops.
      ...(this.o.confinement ? confineCommand(dir, ownRoot !== undefined) : []),
      ...setprivAs(e.uid),
    ];
  }

  /** Where root makes it, the browser's network, before the browser: slirp4netns in a root and a domain of its own. */
  networkBefore(e: Enclosure, join: readonly string[]): Promise<OwnNetwork> | undefined {
    if (e.ownRoot?.kind !== 'root' || !e.ownNetwork) return undefined;
    const confine = privateRootCommand(e.dir, this.o.memoryBytes, { hidden: this.o.hiddenFiles, devices: ['net/tun'] });
    return startOwnNetwork(e.ownRoot.uid, join, confine, this.slirpDomain(e));
  }

  /**
   * Where the helper made the browser's network with its other namespaces, its way out, once
   * Chromium runs and before anything of the browser's goes out (its context and pages come
   * after the launch). `join` puts slirp4netns in the browser's cgroups.
   */
  async networkAfter(e: Enclosure, join: readonly string[], cgroup: TaskCgroup | undefined): Promise<OwnNetwork | undefined> {
    if (!e.userNamespace || !e.ownNetwork) return undefined;
    const inside = browserProcess(e.dir, e.userNamespace.uid, cgroup);
    if (inside === undefined) throw new Error('the launched browser\'s process was not found');
    return joinOwnNetwork(inside, e.userNamespace.uid, join, this.slirpRoot(e), this.slirpDomain(e));
  }

  /**
   * Whether each browser can have a network of its own here, tried in a folder under `root` as a
   * launch makes it (its folder, root, domains and uid, a shell in the place of Chromium):
   * undefined when it can, else why not.
   */
  async whyNoOwnNetwork(root: string): Promise<string | undefined> {
    const dir = path.join(root, `probe-${randomBytes(4).toString('hex')}`);
    let tried: Enclosure | undefined;
    try {
      // Or the browser's uid may not make a user namespace or open /dev/net/tun (mode 0666 on
      // Debian; udev sets it, a machine without udev may not): the attempt says so.
      if (!existsSync(SLIRP4NETNS)) return `${SLIRP4NETNS} is not installed (npm run setup installs it)`;
      const e = await this.prepare(dir, true);
      tried = e;
      const before = this.networkBefore(e, []);
      if (before) (await before).close();
      else if (e.userNamespace) await tryNetworkInside([...this.command(e, undefined), '/bin/sh', '-c', 'echo ready && exec sleep 30'], e.userNamespace.uid, this.slirpRoot(e), this.slirpDomain(e));
      else return 'no uid of its own for the browser';
      return undefined;
    } catch (err) {
      return (err as Error).message;
    } finally {
      tried?.giveUids();
      await removeFolder(dir, FOLDER_REMOVAL_MS).catch(() => undefined);
    }
  }

  /**
   * Where the helper made the browser's network: slirp4netns's root of its own, in the browser's
   * user namespace (at fd 4). The helper is there: a user namespace is the Landlock helper's.
   */
  private slirpRoot(e: Enclosure): string[] {
    return privateRootCommand(e.dir, this.o.memoryBytes, { enterFd: 4, hidden: this.o.hiddenFiles, devices: ['net/tun'] });
  }

  private slirpDomain(e: Enclosure): string[] {
    return this.o.confinement ? networkStackDomain(e.dir) : [];
  }
}
