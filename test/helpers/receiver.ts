import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { callbackSignature, type CallbackBody } from '../../src/callbacks/signature.js';

/** A customer's callback endpoint: keeps what it receives, and answers what it is told to. */
export class CallbackReceiver {
  readonly received: CallbackBody[] = [];
  /** When each of `received` arrived (Date.now()). */
  readonly arrivedAt: number[] = [];
  /** Status codes for the next requests, then 200. */
  failNext: number[] = [];
  private server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      this.received.push(JSON.parse(body) as CallbackBody);
      this.arrivedAt.push(Date.now());
      res.writeHead(this.failNext.shift() ?? 200).end();
    });
  });
  url = '';

  async listen(port = 0): Promise<string> {
    await new Promise<void>((r) => this.server.listen(port, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/callbacks`;
    return this.url;
  }

  /** The distinct events received, in the order first received. */
  events(): (CallbackBody & { data: Record<string, unknown> })[] {
    const seen = new Set<string>();
    return this.received.filter((b) => !seen.has(b.EventId) && seen.add(b.EventId)).map((b) => ({ ...b, data: JSON.parse(b.EventData) as Record<string, unknown> }));
  }

  signatureValid(b: CallbackBody, secret: string): boolean {
    const { Signature, ...rest } = b;
    return callbackSignature(rest, secret) === Signature;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}
