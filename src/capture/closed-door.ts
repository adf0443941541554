import net, { type Socket } from 'node:net';
import { listenAsProxy } from './egress-proxy.js';

/**
 * The proxy of the cloud browser's own requests (Google's account and update checks, which no
 * switch turns off): it closes every connection unanswered, so they reach no one. Chromium does
 * not fall back to a direct connection from a fixed proxy. Pages go through the egress proxy,
 * which each page's browser context names for itself. Where the browsers have a firewall, it
 * refuses them this port before it is reached.
 */
export class ClosedDoor {
  private readonly server = net.createServer((socket: Socket) => {
    socket.on('error', () => undefined);
    socket.destroy();
  });
  listen(): Promise<string> {
    return listenAsProxy(this.server, 'the closed door');
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
