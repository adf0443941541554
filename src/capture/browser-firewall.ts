import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync } from 'node:fs';
import ipaddr from 'ipaddr.js';
import type { Logger } from 'pino';
import type { BrowserUids } from './browser-user.js';
import { foreignNodeState, INITIAL_PID_NAMESPACE, machineView, pidNamespaceOf, type NamespaceView } from './pid-namespaces.js';

/**
 * A page's own WebRTC (UDP, and TCP candidates) does not go through the HTTP proxy, so the
 * rule the proxy applies to HTTP is applied to it below the browser instead: netfilter rules
 * for the browsers' uids. Packets from those uids to the node's own addresses and to any
 * address that is not public unicast (the same ranges the proxy refuses) are rejected, except
 * what the node itself needs its browsers to reach: its egress proxy, the media candidates of
 * each task's publication (opened while it publishes), the DNS servers, and the operator's
 * WEBCAST_URL_ALLOWLIST.
 *
 * Two chains, shared by every node of the machine (they share the browsers' uid range):
 * WEBCAST-BROWSER, jumped to from OUTPUT for those uids, asks WEBCAST-BROWSER-ALLOW (each node's
 * own openings, tagged with the node and its pid) and then rejects the non-public ranges.
 */
const MAIN = 'WEBCAST-BROWSER';
const ALLOW = 'WEBCAST-BROWSER-ALLOW';

type Family = 'ipv4' | 'ipv6';
const TOOL: Record<Family, string> = { ipv4: 'iptables', ipv6: 'ip6tables' };

/** Every range the proxy refuses (see EgressPolicy), from ipaddr.js's own table. */
export function nonPublicRanges(family: Family): string[] {
  // ipaddr.js keeps the table `range()` classifies by on its prototypes, untyped.
  const proto = (family === 'ipv4' ? ipaddr.IPv4.prototype : ipaddr.IPv6.prototype) as unknown as { SpecialRanges: Record<string, unknown> };
  const table = proto.SpecialRanges;
  const out: string[] = [];
  for (const entry of Object.values(table)) {
    const list = (Array.isArray((entry as unknown[])[0]) ? entry : [entry]) as [ipaddr.IPv4 | ipaddr.IPv6, number][];
    for (const [address, bits] of list) out.push(`${address.toString()}/${bits}`);
  }
  return out;
}

/** What a node opens for its browsers for as long as it runs. */
export interface NodeOpenings {
  /** The egress proxy, on loopback. */
  proxyPort: number;
  /** WEBCAST_URL_ALLOWLIST's addresses and CIDRs. */
  allowlist: string[];
}

/** An address and UDP port a publisher sends its media to (a candidate of the room's answer). */
export interface MediaTarget {
  address: string;
  port: number;
}

/** Opens the room's media candidates to a task's browser while it publishes. */
export interface MediaGate {
  /**
   * Opens `targets` to the browser running as `uid` alone (another task's browser must not
   * reach this publication's ports); resolves to what closes them again.
   */
  open(targets: readonly MediaTarget[], uid: number | undefined): Promise<() => Promise<void>>;
}

/** The UDP candidates of an SDP: where a publisher will send. */
export function udpCandidates(sdp: string): MediaTarget[] {
  const out: MediaTarget[] = [];
  for (const m of sdp.matchAll(/^a=candidate:\S+ \d+ udp \d+ (\S+) (\d+) typ/gim)) {
    const address = m[1] ?? '';
    const port = Number(m[2]);
    if (ipaddr.isValid(address) && !out.some((t) => t.address === address && t.port === port)) out.push({ address, port });
  }
  return out;
}

const familyOf = (cidr: string): Family => (cidr.includes(':') ? 'ipv6' : 'ipv4');

function nameservers(): string[] {
  try {
    return readFileSync('/etc/resolv.conf', 'utf8')
      .split('\n')
      .map((l) => /^\s*nameserver\s+(\S+)/.exec(l)?.[1])
      .filter((a): a is string => a !== undefined && ipaddr.isValid(a));
  } catch {
    return [];
  }
}

function mainChainRules(family: Family): string[] {
  const rules = [`-A ${MAIN} -j ${ALLOW}`];
  for (const ns of nameservers().filter((a) => familyOf(a) === family)) {
    for (const proto of ['udp', 'tcp']) rules.push(`-A ${MAIN} -d ${ns} -p ${proto} -m ${proto} --dport 53 -j ACCEPT`);
  }
  // The node's own addresses, whichever interface has them, even a public one: its services
  // are not a page's to reach.
  rules.push(`-A ${MAIN} -m addrtype --dst-type LOCAL -j REJECT`);
  for (const range of nonPublicRanges(family)) rules.push(`-A ${MAIN} -d ${range} -j REJECT`);
  return rules;
}

function nodeRules(family: Family, o: NodeOpenings, tag: string, uidRange: string): string[] {
  // For this node's browsers only: another node's pages must get neither its proxy (with its
  // allowlist) nor what its WEBCAST_URL_ALLOWLIST opens (loopback, say).
  const ours = `-m owner --uid-owner ${uidRange} -m comment --comment "${tag}"`;
  const loopback = family === 'ipv4' ? '127.0.0.1' : '::1';
  const rules = family === 'ipv4' ? [`-A ${ALLOW} -d ${loopback} -p tcp -m tcp --dport ${o.proxyPort} ${ours} -j ACCEPT`] : [];
  for (const a of o.allowlist.filter((x) => familyOf(x) === family)) rules.push(`-A ${ALLOW} -d ${a} ${ours} -j ACCEPT`);
  return rules;
}

/** Applies rule lines in one commit, off the event loop (a publication opens and closes its own). */
function restore(family: Family, lines: string[]): Promise<void> {
  if (lines.length === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const child = spawn(`${TOOL[family]}-restore`, ['--noflush'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${TOOL[family]}-restore failed: ${stderr.trim()}`))));
    child.stdin.end(`*filter\n${lines.join('\n')}\nCOMMIT\n`);
  });
}

const execIptables = promisify(execFile);
/** Runs iptables (or ip6tables); resolves to its output, or undefined when it fails. */
const run = (family: Family, args: string[]): Promise<string | undefined> =>
  execIptables(TOOL[family], ['-w', ...args], { encoding: 'utf8' }).then((r) => r.stdout, () => undefined);

/** Whether a process of that pid lives (EPERM: it does, as another user's). */
export const processAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * Another node of this machine runs its browsers in uids of this node's range: each node's
 * openings (its proxy, its WEBCAST_URL_ALLOWLIST) are for its own range, so with shared uids one
 * node's openings would be the other's pages' too. The node does not start.
 */
export class BrowserUidsInUse extends Error {}

/**
 * A rule's node, by its tag: "webcast-node:KEY:PID:PIDNS", alone or before ":media…", where
 * PIDNS is the inode of the node's PID namespace (absent in tags of earlier versions).
 */
export function tagOf(line: string): { pid: number; pidNamespace?: number } | undefined {
  const m = /"webcast-node:[^:"]+:(\d+)(?::(\d+))?(?::media\d+)?"/.exec(line);
  if (!m) return undefined;
  return { pid: Number(m[1]), ...(m[2] === undefined ? {} : { pidNamespace: Number(m[2]) }) };
}

/** `first-last` (or one uid) as iptables prints an owner match. */
function parseOwnerRange(line: string): BrowserUids | undefined {
  const m = /--uid-owner (\d+)(?:-(\d+))?/.exec(line);
  if (!m) return undefined;
  return { first: Number(m[1]), last: Number(m[2] ?? m[1]) };
}

/** Whose a rule is: this node's, a node's that runs or may run ('unknown': in a PID namespace this node cannot see), a killed node's, or no node's tag. */
type RuleOwner = 'mine' | 'live' | 'unknown' | 'dead' | 'untagged';

export class BrowserFirewall implements MediaGate {
  private readonly tag: string;
  private readonly pidNamespace: number;
  private gates = 0;

  private constructor(
    private readonly uids: BrowserUids,
    nodeKey: string,
    private readonly openings: NodeOpenings,
    private readonly families: Family[],
  ) {
    const own = pidNamespaceOf('self');
    this.pidNamespace = typeof own === 'number' ? own : INITIAL_PID_NAMESPACE;
    this.tag = `webcast-node:${nodeKey}:${process.pid}:${this.pidNamespace}`;
  }

  /**
   * Sets up the rules for the browsers' `uids`, or says why it cannot: the service is not root,
   * or iptables is missing. Undefined with a warning logged: page WebRTC is then not confined.
   */
  static async install(uids: BrowserUids | undefined, nodeKey: string, openings: NodeOpenings, log: Logger): Promise<BrowserFirewall | undefined> {
    if (uids === undefined) {
      log.warn('the service can not run browsers as users of their own (neither root nor given the capabilities): page WebRTC is not confined to public addresses (README: Security model)');
      return undefined;
    }
    const families: Family[] = [];
    for (const f of ['ipv4', 'ipv6'] as const) if ((await run(f, ['-S', 'OUTPUT'])) !== undefined) families.push(f);
    if (!families.includes('ipv4')) {
      log.warn('iptables is missing or does not work here: page WebRTC is not confined to public addresses (npm run setup installs it)');
      return undefined;
    }
    const firewall = new BrowserFirewall(uids, nodeKey, openings, families);
    await firewall.refuseSharedUids();
    await firewall.apply();
    // Two nodes started at once (two units at boot, with the same default range) may each have
    // looked before the other's rules were in: with its own in place, a node looks again, and
    // backs out if it sees the other. Both may; both never run.
    try {
      await firewall.refuseSharedUids();
    } catch (err) {
      await firewall.remove();
      throw err;
    }
    log.info({ families, uids: `${uids.first}-${uids.last}` }, 'browser firewall in place');
    return firewall;
  }

  private async apply(): Promise<void> {
    for (const f of this.families) {
      await run(f, ['-N', ALLOW]);
      // Declaring the main chain replaces its rules in one commit: never a moment without them.
      await restore(f, [`:${MAIN} - [0:0]`, ...mainChainRules(f)]);
      await this.removeJumps(f, false);
      const jump = ['OUTPUT', '-m', 'owner', '--uid-owner', this.range, '-m', 'comment', '--comment', this.tag, '-j', MAIN];
      if ((await run(f, ['-C', ...jump])) === undefined) await run(f, ['-I', ...jump]);
      await this.removeOpenings(f);
      await restore(f, nodeRules(f, this.openings, this.tag, this.range));
    }
  }

  /** Throws BrowserUidsInUse when a live node of this machine has jumps for uids of our range. */
  private async refuseSharedUids(): Promise<void> {
    const listing = (await run('ipv4', ['-S', 'OUTPUT'])) ?? '';
    const view = machineView(this.pidNamespace);
    for (const line of listing.split('\n')) {
      if (!line.includes(`-j ${MAIN}`)) continue;
      const whose = this.whose(line, view);
      if (whose !== 'live' && whose !== 'unknown') continue;
      const theirs = parseOwnerRange(line);
      if (!theirs || theirs.last < this.uids.first || this.uids.last < theirs.first) continue;
      const tag = tagOf(line);
      const who = whose === 'live'
        ? `another webcast node running on this machine (pid ${tag?.pid})`
        : `a webcast node in another PID namespace (pid ${tag?.pid} there, namespace ${tag?.pidNamespace}), which this node cannot see: if that node is gone, delete its rules (iptables -S OUTPUT and iptables -S ${ALLOW}, tagged with that pid and namespace)`;
      throw new BrowserUidsInUse(
        `WEBCAST_BROWSER_UIDS ${this.range} overlaps ${theirs.first}-${theirs.last}, the browser uids of ${who}: ` +
          'give each node of a machine a range of its own, or one node\'s firewall openings (its proxy, its WEBCAST_URL_ALLOWLIST) would be open to the other node\'s pages',
      );
    }
  }

  private get range(): string {
    return `${this.uids.first}-${this.uids.last}`;
  }

  /**
   * The jumps into our chain of nodes that were killed before they could take theirs away (an
   * untagged one of an earlier version too, for our own range), and with `own` this node's. A
   * stale jump would hold back whatever later runs under those uids.
   */
  private async removeJumps(f: Family, own: boolean): Promise<void> {
    await this.removeRules(f, 'OUTPUT', (line, whose) => {
      if (!line.includes(`-j ${MAIN}`)) return false;
      return whose === 'untagged' ? line.includes(`--uid-owner ${this.range} `) : whose === 'dead' || (own && whose === 'mine');
    });
  }

  /** This node's openings, and those of nodes that were killed before they could take theirs away. */
  private async removeOpenings(f: Family): Promise<void> {
    await this.removeRules(f, ALLOW, (_line, whose) => whose === 'mine' || whose === 'dead');
  }

  /** Deletes the rules of `chain` that `stale` picks, told whose each rule is by its tag. */
  private async removeRules(f: Family, chain: string, stale: (line: string, whose: RuleOwner) => boolean): Promise<void> {
    const listing = (await run(f, ['-S', chain])) ?? '';
    const view = machineView(this.pidNamespace);
    const lines = listing.split('\n').filter((line) => line.startsWith(`-A ${chain} `) && stale(line, this.whose(line, view)));
    await restore(f, lines.map((line) => line.replace(/^-A /, '-D ')));
  }

  /** A rule's node, by its comment: this node's tag, alone or before ":media…"; `view`: the machine's processes, read once a listing. */
  private whose(line: string, view: NamespaceView): RuleOwner {
    const tag = tagOf(line);
    if (tag === undefined) return 'untagged';
    if (line.includes(`"${this.tag}"`) || line.includes(`"${this.tag}:`)) return 'mine';
    // A pid says something only in the namespace it was counted in (tags of earlier versions: ours).
    if (tag.pidNamespace === undefined || tag.pidNamespace === this.pidNamespace) return processAlive(tag.pid) ? 'live' : 'dead';
    return foreignNodeState(tag.pid, tag.pidNamespace, view);
  }

  async open(targets: readonly MediaTarget[], uid: number | undefined): Promise<() => Promise<void>> {
    this.gates += 1;
    const comment = `-m comment --comment "${this.tag}:media${this.gates}"`;
    const owner = uid === undefined ? '' : `-m owner --uid-owner ${uid} `;
    const rules = (f: Family) => targets.filter((x) => familyOf(x.address) === f).map((x) => `-A ${ALLOW} -d ${x.address} -p udp -m udp --dport ${x.port} ${owner}${comment} -j ACCEPT`);
    for (const f of this.families) await restore(f, rules(f));
    let open = true;
    return async () => {
      if (!open) return;
      open = false;
      for (const f of this.families) await restore(f, rules(f).map((r) => r.replace(/^-A /, '-D '))).catch(() => undefined);
    };
  }

  /** At shutdown, once this node's browsers are gone: nothing of this node stays in the firewall (the shared chains stay, for the other nodes). */
  async remove(): Promise<void> {
    for (const f of this.families) {
      await this.removeOpenings(f).catch(() => undefined);
      await this.removeJumps(f, true).catch(() => undefined);
    }
  }
}
