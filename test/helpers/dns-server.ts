import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import path from 'node:path';
import dnsPacket from 'dns-packet';
import { inMountNamespace } from './process.js';

export interface DnsServer {
  /** `address:port`, as c-ares's setServers takes it. */
  server: string;
  address: string;
  port: number;
  /** Queries received for names `which` accepts. */
  asked(which: (name: string) => boolean): number;
  close(): void;
}

/**
 * A DNS server of the test's over UDP: `names` are answered with their addresses (A and AAAA),
 * names `silent` accepts are never answered, as by a server that is down, and every other
 * name does not exist (NXDOMAIN).
 */
export async function startDnsServer(o: { names: Record<string, string[]>; silent: (name: string) => boolean; address?: string; port?: number }): Promise<DnsServer> {
  const socket = dgram.createSocket('udp4');
  const received: string[] = [];
  socket.on('message', (msg, from) => {
    let query: dnsPacket.Packet;
    try {
      query = dnsPacket.decode(msg);
    } catch {
      return;
    }
    const question = query.questions?.[0];
    if (!question) return;
    const name = question.name.toLowerCase();
    received.push(name);
    if (o.silent(name)) return;
    const known = o.names[name];
    const answers: dnsPacket.Answer[] = (known ?? [])
      .filter((a) => (question.type === 'A' ? isIPv4(a) : question.type === 'AAAA' && !isIPv4(a)))
      .map((data) => ({ type: question.type as 'A' | 'AAAA', name: question.name, ttl: 1, class: 'IN', data }));
    const answer = dnsPacket.encode({
      id: query.id,
      type: 'response',
      flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | (known ? 0 : 3),
      questions: query.questions ?? [],
      answers,
    });
    socket.send(answer, from.port, from.address);
  });
  const address = o.address ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(o.port ?? 0, address, () => resolve());
  });
  const port = socket.address().port;
  return {
    server: `${address}:${port}`,
    address,
    port,
    asked: (which) => received.filter(which).length,
    close: () => socket.close(),
  };
}

/**
 * The DNS server a spawned service (run with `prefix`) asks, through a resolv.conf of its own
 * written in `dir`, as getaddrinfo and c-ares both read it. It listens on port 53 (resolv.conf
 * names no port) of a loopback address of its own. Needs root.
 */
export async function startServiceDns(o: Parameters<typeof startDnsServer>[0], dir: string): Promise<{ dns: DnsServer; prefix: string[] }> {
  const dns = await startDnsServer({ ...o, address: `127.53.${randomInt(1, 255)}.${randomInt(1, 255)}`, port: 53 });
  const file = path.join(dir, 'resolv.conf');
  writeFileSync(file, `nameserver ${dns.address}\n`);
  return { dns, prefix: inMountNamespace(`mount --bind ${file} /etc/resolv.conf`) };
}
