import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import ipaddr from 'ipaddr.js';
import type { Logger } from 'pino';
import type { BrowserUids } from './browser-user.js';

/**
 * A page's own WebRTC (UDP, and TCP candidates) does not go through the HTTP proxy, so the
 * rule the proxy applies to HTTP is applied to it below the browser instead: netfilter rules
 * for the browsers' uids. Packets from that user to any address that is not public
 * unicast (the same ranges the proxy refuses) are rejected, except what the node itself needs
 * its browsers to reach: its egress proxy, its Janus's media ports, the DNS servers, and the
 * operator's WEBCAST_URL_ALLOWLIST.
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
  /** Returns what closes them again. */
  open(targets: readonly MediaTarget[]): () => void;
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

function nodeRules(family: Family, o: NodeOpenings, tag: string): string[] {
  const comment = `-m comment --comment "${tag}"`;
  const loopback = family === 'ipv4' ? '127.0.0.1' : '::1';
  const rules = family === 'ipv4' ? [`-A ${ALLOW} -d ${loopback} -p tcp -m tcp --dport ${o.proxyPort} ${comment} -j ACCEPT`] : [];
  for (const a of o.allowlist.filter((x) => familyOf(x) === family)) rules.push(`-A ${ALLOW} -d ${a} ${comment} -j ACCEPT`);
  return rules;
}

const restore = (family: Family, lines: string[]): void => {
  if (lines.length === 0) return;
  const result = spawnSync(`${TOOL[family]}-restore`, ['--noflush'], { input: `*filter\n${lines.join('\n')}\nCOMMIT\n`, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${TOOL[family]}-restore failed: ${(result.stderr || result.error?.message || '').trim()}`);
};

const run = (family: Family, args: string[]): boolean => spawnSync(TOOL[family], ['-w', ...args], { stdio: 'ignore' }).status === 0;

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

export class BrowserFirewall implements MediaGate {
  private readonly tag: string;
  private gates = 0;
  private readonly families: Family[];

  private constructor(
    private readonly uids: BrowserUids,
    nodeKey: string,
    private readonly openings: NodeOpenings,
  ) {
    this.tag = `webcast-node:${nodeKey}:${process.pid}`;
    this.families = (['ipv4', 'ipv6'] as const).filter((f) => spawnSync(TOOL[f], ['-w', '-S', 'OUTPUT'], { stdio: 'ignore' }).status === 0);
  }

  /**
   * Sets up the rules for `uid`, or says why it cannot: the service is not root, or iptables
   * is missing. Undefined with a warning logged: page WebRTC is then not confined.
   */
  static install(uids: BrowserUids | undefined, nodeKey: string, openings: NodeOpenings, log: Logger): BrowserFirewall | undefined {
    if (uids === undefined) {
      log.warn('the service does not run as root: page WebRTC is not confined to public addresses (README: Security model)');
      return undefined;
    }
    const firewall = new BrowserFirewall(uids, nodeKey, openings);
    if (!firewall.families.includes('ipv4')) {
      log.warn('iptables is missing or does not work here: page WebRTC is not confined to public addresses (npm run setup installs it)');
      return undefined;
    }
    firewall.apply();
    log.info({ families: firewall.families, uids: `${uids.first}-${uids.last}` }, 'browser firewall in place');
    return firewall;
  }

  private apply(): void {
    for (const f of this.families) {
      run(f, ['-N', ALLOW]);
      // Declaring the main chain replaces its rules in one commit: never a moment without them.
      restore(f, [`:${MAIN} - [0:0]`, ...mainChainRules(f)]);
      const jump = ['OUTPUT', '-m', 'owner', '--uid-owner', `${this.uids.first}-${this.uids.last}`, '-j', MAIN];
      if (!run(f, ['-C', ...jump])) run(f, ['-I', ...jump]);
      this.removeStale(f);
      restore(f, nodeRules(f, this.openings, this.tag));
    }
  }

  /** This node's openings, and those of nodes that were killed before they could take theirs away. */
  private removeStale(f: Family): void {
    const listing = execFileSync(TOOL[f], ['-w', '-S', ALLOW], { encoding: 'utf8' });
    const stale = listing.split('\n').filter((line) => {
      const m = /webcast-node:[0-9a-f]+:(\d+)/.exec(line);
      return m && (line.includes(`"${this.tag}`) || !alive(Number(m[1])));
    });
    if (stale.length > 0) restore(f, stale.map((line) => line.replace(/^-A /, '-D ')));
  }

  open(targets: readonly MediaTarget[]): () => void {
    this.gates += 1;
    const comment = `-m comment --comment "${this.tag}:media${this.gates}"`;
    const rules = (f: Family) => targets.filter((x) => familyOf(x.address) === f).map((x) => `-A ${ALLOW} -d ${x.address} -p udp -m udp --dport ${x.port} ${comment} -j ACCEPT`);
    for (const f of this.families) restore(f, rules(f));
    let open = true;
    return () => {
      if (!open) return;
      open = false;
      for (const f of this.families) {
        try {
          restore(f, rules(f).map((r) => r.replace(/^-A /, '-D ')));
        } catch {
          // already gone
        }
      }
    };
  }

  /** Takes this node's openings away; the shared chains stay for the other nodes. */
  remove(): void {
    for (const f of this.families) {
      try {
        this.removeStale(f);
      } catch {
        // already gone
      }
    }
  }
}
