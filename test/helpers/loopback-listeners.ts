import dgram from 'node:dgram';
import net from 'node:net';
import { NODE_FROM_BROWSER } from '../../src/capture/browser-network.js';

export interface LoopbackListeners {
  /** Comma-separated `address:port` targets for a page: each loopback address, and the node as a browser's own network sees it. */
  udp: string;
  tcp: string;
  hits(): { udp4: number; udp6: number; tcp4: number; tcp6: number; udp: number; tcp: number };
  close(): void;
}

/** A UDP and a TCP listener on each loopback address (127.0.0.1 and ::1), each counting what reaches it. */
export async function loopbackListeners(): Promise<LoopbackListeners> {
  const hits = { udp4: 0, udp6: 0, tcp4: 0, tcp6: 0 };
  const udp4 = dgram.createSocket('udp4').on('message', () => (hits.udp4 += 1));
  const udp6 = dgram.createSocket({ type: 'udp6', ipv6Only: true }).on('message', () => (hits.udp6 += 1));
  await new Promise<void>((r) => udp4.bind(0, '127.0.0.1', r));
  await new Promise<void>((r) => udp6.bind(0, '::1', r));
  const tcpOn = async (address: string, family: 'tcp4' | 'tcp6') => {
    const server = net.createServer((socket) => {
      hits[family] += 1;
      socket.destroy();
    });
    await new Promise<void>((r) => server.listen(0, address, r));
    return server;
  };
  const [tcp4, tcp6] = [await tcpOn('127.0.0.1', 'tcp4'), await tcpOn('::1', 'tcp6')];
  const port = (s: net.Server) => (s.address() as net.AddressInfo).port;
  // From a browser's network of its own, loopback is its own, and the node's is its gateway.
  return {
    udp: `127.0.0.1:${udp4.address().port},[::1]:${udp6.address().port},${NODE_FROM_BROWSER}:${udp4.address().port}`,
    tcp: `127.0.0.1:${port(tcp4)},[::1]:${port(tcp6)},${NODE_FROM_BROWSER}:${port(tcp4)}`,
    hits: () => ({ ...hits, udp: hits.udp4 + hits.udp6, tcp: hits.tcp4 + hits.tcp6 }),
    close: () => {
      udp4.close();
      udp6.close();
      tcp4.close();
      tcp6.close();
    },
  };
}
