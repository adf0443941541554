import { promises as dns, type LookupAddress } from 'node:dns';
import { readFileSync, statSync } from 'node:fs';
import { isIP, type LookupFunction } from 'node:net';

/** How long one DNS server gets on the first try; c-ares doubles it on the next. */
const TRY_MS = 1500;
const TRIES = 2;
/** Where c-ares finds the DNS servers (a path of its own); a resolver is made again when it changes. */
const RESOLV_CONF = '/etc/resolv.conf';

export interface NameLookupOptions {
  /** The hosts file read before DNS, as glibc's `files` source does. */
  hostsFile?: string;
  /** DNS servers (`address` or `address:port`) instead of resolv.conf's: for tests. */
  servers?: readonly string[];
  tryMs?: number;
  tries?: number;
}

interface FileStamp {
  mtimeMs: number;
  size: number;
  ino: number;
}

const stampOf = (file: string): FileStamp | undefined => {
  try {
    const s = statSync(file);
    return { mtimeMs: s.mtimeMs, size: s.size, ino: s.ino };
  } catch {
    return undefined;
  }
};
const sameStamp = (a: FileStamp | undefined, b: FileStamp | undefined): boolean =>
  a === b || (!!a && !!b && a.mtimeMs === b.mtimeMs && a.size === b.size && a.ino === b.ino);

/** `/etc/hosts`: every address of every name, names in lower case. */
export function parseHosts(text: string): Map<string, string[]> {
  const byName = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const [address, ...names] = (line.split('#')[0] ?? '').trim().split(/\s+/);
    if (!address || !isIP(address.replace(/%.*$/, ''))) continue;
    for (const name of names) {
      const key = name.toLowerCase();
      const list = byName.get(key) ?? [];
      if (!list.includes(address)) list.push(address);
      byName.set(key, list);
    }
  }
  return byName;
}

const lookupError = (host: string, code: string, why: string): NodeJS.ErrnoException =>
  Object.assign(new Error(`looking up ${host}: ${why}`), { code, hostname: host });

/**
 * Host names the node looks up for others: the pages' (through the egress proxy) and the
 * customers' callback servers.
 *
 * Not with dns.lookup(): that is getaddrinfo() on one of libuv's four threads, which every file
 * system call of the process shares, and it cannot be cancelled. A name whose DNS never answers
 * holds a thread for about 10 s (glibc: 5 s, twice), so a page that asked for a few such names
 * at a time held all four, and every other task's page, and every file the node opened, waited
 * behind it (2026-11-28: another AppId's task failed to start, StartTaskFailed, beside a page
 * fetching random names of a silent domain). c-ares asks the DNS servers itself, on the event
 * loop, each query on its own, given at most TRY_MS and then twice that.
 *
 * As getaddrinfo does, a name in the hosts file is answered from there alone; DNS is asked for
 * both IPv4 and IPv6 addresses, IPv4 first in the answer. Unlike it, the name is asked as given:
 * resolv.conf's search domains are not tried, nor other sources of nsswitch.conf.
 */
export class NameLookup {
  private readonly hostsFile: string;
  private hosts: { stamp: FileStamp | undefined; byName: Map<string, string[]> } = { stamp: undefined, byName: new Map() };
  private resolver: { stamp: FileStamp | undefined; r: dns.Resolver } | undefined;

  constructor(private readonly o: NameLookupOptions = {}) {
    this.hostsFile = o.hostsFile ?? '/etc/hosts';
  }

  /** Every address of `host` (an address is its own answer); rejects with the resolver's code (ENOTFOUND, ETIMEOUT, …). */
  async addresses(host: string): Promise<string[]> {
    const bare = host.replace(/^\[|\]$/g, '');
    if (isIP(bare)) return [bare];
    const name = bare.toLowerCase().replace(/\.$/, '');
    const fromFile = this.hostsNow().get(name);
    if (fromFile?.length) return [...fromFile];
    const r = this.resolverNow();
    const [v4, v6] = await Promise.allSettled([r.resolve4(name), r.resolve6(name)]);
    const found = [...(v4.status === 'fulfilled' ? v4.value : []), ...(v6.status === 'fulfilled' ? v6.value : [])];
    if (found.length) return found;
    // A name with records of neither family: say what DNS said of the IPv4 ones, unless that was only "no such records".
    const reasons = [v4, v6].flatMap((s) => (s.status === 'rejected' ? [s.reason as NodeJS.ErrnoException] : []));
    const telling = reasons.find((e) => e.code !== 'ENODATA') ?? reasons[0];
    const code = telling?.code ?? 'ENODATA';
    throw lookupError(bare, code, code === 'ENOTFOUND' ? 'no such name' : code === 'ENODATA' ? 'no address' : code === 'ETIMEOUT' ? 'DNS did not answer' : code);
  }

  /** For `net.connect`'s and `http.request`'s `lookup` option. */
  readonly lookup: LookupFunction = (hostname, options, callback) => {
    this.addresses(hostname).then(
      (all) => {
        const wanted = all.map((address): LookupAddress => ({ address, family: isIP(address) })).filter((a) => !options.family || a.family === options.family);
        const first = wanted[0];
        if (!first) callback(lookupError(hostname, 'ENOTFOUND', `no IPv${options.family} address`), '', 0);
        else if (options.all) callback(null, wanted);
        else callback(null, first.address, first.family);
      },
      (err: NodeJS.ErrnoException) => callback(err, '', 0),
    );
  };

  private hostsNow(): Map<string, string[]> {
    const stamp = stampOf(this.hostsFile);
    if (!sameStamp(stamp, this.hosts.stamp)) {
      let text = '';
      try {
        // Read on the event loop on purpose: a small file, and the threads are what this class keeps free.
        text = readFileSync(this.hostsFile, 'utf8');
      } catch {
        // No hosts file: DNS alone.
      }
      this.hosts = { stamp, byName: parseHosts(text) };
    }
    return this.hosts.byName;
  }

  private resolverNow(): dns.Resolver {
    const stamp = this.o.servers ? undefined : stampOf(RESOLV_CONF);
    if (!this.resolver || !sameStamp(stamp, this.resolver.stamp)) {
      // c-ares reads resolv.conf when a resolver is made: a new one follows the machine's changes.
      const r = new dns.Resolver({ timeout: this.o.tryMs ?? TRY_MS, tries: this.o.tries ?? TRIES });
      if (this.o.servers) r.setServers([...this.o.servers]);
      this.resolver = { stamp, r };
    }
    return this.resolver.r;
  }
}
