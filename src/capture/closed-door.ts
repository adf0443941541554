import net, { type Socket } from 'node:net';

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
  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    if (!address || typeof address === 'string') throw new Error('the closed door has no port');
    return `http://127.0.0.1:${address.port}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
