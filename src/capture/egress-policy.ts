import ipaddr from 'ipaddr.js';
import { NameLookup } from '../name-lookup.js';

/**
 * Which addresses a cloud browser may reach. By default only public unicast addresses:
 * loopback, private, link-local (cloud metadata at 169.254.169.254 included), CGNAT, multicast
 * and reserved ranges are refused, so a customer's page cannot become a way into our network.
 * An allowlist of host names and CIDRs opens exceptions.
 */
export class EgressPolicy {
  private readonly hosts = new Set<string>();
  private readonly ranges: [ipaddr.IPv4 | ipaddr.IPv6, number][] = [];

  constructor(
    allowlist: readonly string[] = [],
    private readonly names: NameLookup = new NameLookup(),
  ) {
    for (const raw of allowlist.map((s) => s.trim()).filter(Boolean)) {
      if (raw.includes('/')) this.ranges.push(ipaddr.parseCIDR(raw));
      else if (ipaddr.isValid(raw)) this.ranges.push(ipaddr.parseCIDR(`${raw}/${ipaddr.parse(raw).kind() === 'ipv4' ? 32 : 128}`));
      else this.hosts.add(raw.toLowerCase());
    }
  }

  /** Throws with the reason when the allowlist entry is not a host, an address or a CIDR. */
  static parseList(raw: string | undefined, names?: NameLookup): EgressPolicy {
    const entries = (raw ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    for (const e of entries) {
      if (e.includes('/') && !ipaddr.isValidCIDR(e)) throw new Error(`WEBCAST_URL_ALLOWLIST: "${e}" is not a valid CIDR`);
    }
    return new EgressPolicy(entries, names);
  }

  private inAllowedRange(address: ipaddr.IPv4 | ipaddr.IPv6): boolean {
    return this.ranges.some(([net, bits]) => address.kind() === net.kind() && address.match(net, bits));
  }

  /** Why this address may not be reached, or undefined when it may. */
  refusal(host: string, address: string): string | undefined {
    if (this.hosts.has(host.toLowerCase())) return undefined;
    let parsed: ipaddr.IPv4 | ipaddr.IPv6 = ipaddr.parse(address);
    if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) parsed = (parsed as ipaddr.IPv6).toIPv4Address();
    if (this.inAllowedRange(parsed)) return undefined;
    const range = parsed.range();
    return range === 'unicast' ? undefined : `${address} is a ${range} address`;
  }

  /**
   * Resolves the host and returns the address to connect to. Every address the name has must
   * be allowed, and the caller connects to the one checked, so DNS cannot change it in between.
   */
  async resolve(host: string): Promise<{ address: string } | { refused: string } | { failed: string }> {
    const bare = host.replace(/^\[|\]$/g, '');
    let addresses: string[];
    if (ipaddr.isValid(bare)) addresses = [bare];
    else {
      try {
        addresses = await this.names.addresses(bare);
      } catch (err) {
        return { failed: `DNS lookup of ${bare} failed (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` };
      }
    }
    for (const a of addresses) {
      const why = this.refusal(bare, a);
      if (why) return { refused: `${bare}: ${why}, which webcast pages may not reach unless the node's WEBCAST_URL_ALLOWLIST opens it` };
    }
    const first = addresses[0];
    return first ? { address: first } : { failed: `DNS lookup of ${bare} returned no address` };
  }
}
