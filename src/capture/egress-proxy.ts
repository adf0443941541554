import http, { type IncomingMessage } from 'node:http';
import net, { type Socket } from 'node:net';
import { redactUrl } from '../redact-url.js';
import type { EgressPolicy } from './egress-policy.js';
import { ToldRefusals } from './told-refusals.js';

/** Set on answers the proxy makes itself, so a 403 or 502 of ours is not taken for the site's. */
export const EGRESS_HEADER = 'x-webcast-egress';

/** Listens on a loopback port (by default a free one), and names it as the browsers' proxy: `http://127.0.0.1:PORT`. */
export async function listenAsProxy(server: net.Server, what: string, port = 0): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error(`${what} has no port`);
  return `http://127.0.0.1:${address.port}`;
}

const hostKey = (host: string): string => host.toLowerCase().replace(/^\[(.*)\]$/, '$1');

/** What the proxy logs through: pino's logger, or the egress process's line to the service. */
export interface EgressLog {
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
  debug(fields: Record<string, unknown>, msg: string): void;
}

/** Why a page's request to a host failed, for a task that cannot open its page to say why. */
export interface EgressFailures {
  failureFor(host: string): string | undefined;
}

/** The latest failure per host (an IPv6 host with or without its brackets), at most about a thousand hosts. */
export class FailureMemory implements EgressFailures {
  private readonly byHost = new Map<string, string>();

  remember(host: string, reason: string): void {
    if (this.byHost.size > 1000) this.byHost.clear();
    this.byHost.set(hostKey(host), reason);
  }

  failureFor(host: string): string | undefined {
    return this.byHost.get(hostKey(host));
  }
}

/** Where each refused or failed request goes: by default the proxy's own FailureMemory. */
export type FailureSink = (host: string, reason: string, refused: boolean) => void;

/**
 * The only way out of the cloud browser's pages: an HTTP proxy on loopback that checks, on every
 * request (documents, subresources, redirects, WebSockets, HTTPS tunnels), where it goes, then
 * connects to the very address it checked. Every task's browser context is made with it as its
 * proxy, with no implicit loopback bypass (the browser's own requests go to the ClosedDoor).
 */
export class EgressProxy implements EgressFailures {
  private readonly server = http.createServer();
  private readonly sockets = new Set<Socket>();
  /** The latest refusal or failure per host, so a task that cannot open its page can say why. */
  private readonly failures = new FailureMemory();
  private readonly toldRefusals = new ToldRefusals();

  constructor(
    private readonly policy: EgressPolicy,
    private readonly log: EgressLog,
    /** Elsewhere (the service, when the proxy runs in a process of its own) instead of its own memory. */
    private readonly sink: FailureSink = (host, reason) => this.failures.remember(host, reason),
  ) {
    // Whatever a page or a server sends, a fault stays with that one request: nothing thrown
    // while serving it may reach the process.
    this.server.on('request', (req, res) => {
      req.on('error', () => res.destroy());
      res.on('error', () => undefined);
      this.forward(req, res).catch((err: unknown) => this.fault(err, () => res.destroy()));
    });
    this.server.on('connect', (req: IncomingMessage, socket: Socket, head: Buffer) => {
      socket.on('error', () => socket.destroy());
      this.tunnel(req, socket, head).catch((err: unknown) => this.fault(err, () => socket.destroy()));
    });
    this.server.on('clientError', (_err, socket: Socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\n\r\n');
      else socket.destroy();
    });
    this.server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
    });
  }

  listen(port = 0): Promise<string> {
    return listenAsProxy(this.server, 'the egress proxy', port);
  }

  private fault(err: unknown, end: () => void): void {
    this.log.warn({ err: (err as Error).message }, 'egress proxy: a request failed');
    end();
  }

  /** Why the last request to `host` failed; an IPv6 host with or without its brackets (URL.hostname keeps them). */
  failureFor(host: string): string | undefined {
    return this.failures.failureFor(host);
  }

  private async check(host: string): Promise<{ address: string } | { status: number; reason: string }> {
    const result = await this.policy.resolve(host);
    if ('address' in result) return result;
    const reason = 'refused' in result ? result.refused : result.failed;
    this.sink(host, reason, 'refused' in result);
    if ('refused' in result) {
      const tell = this.toldRefusals.refused(hostKey(host), Date.now());
      if (tell) this.log.info({ host, reason, ...(tell.untold ? { untold: tell.untold } : {}) }, 'cloud browser request refused');
    } else this.log.debug({ host, reason }, 'cloud browser request failed');
    return { status: 'refused' in result ? 403 : 502, reason };
  }

  private async forward(req: IncomingMessage, res: http.ServerResponse): Promise<void> {
    let target: URL;
    try {
      target = new URL(req.url ?? '');
    } catch {
      res.writeHead(400).end('a proxy request needs an absolute URL');
      return;
    }
    if (target.protocol !== 'http:') {
      res.writeHead(400).end('only http:// is forwarded; https goes through CONNECT');
      return;
    }
    const verdict = await this.check(target.hostname);
    if ('status' in verdict) {
      res.writeHead(verdict.status, { 'content-type': 'text/plain', [EGRESS_HEADER]: verdict.status === 403 ? 'refused' : 'failed' }).end(`${verdict.reason}\n`);
      return;
    }
    const headers = { ...req.headers };
    delete headers['proxy-connection'];
    delete headers['proxy-authorization'];
    const upstream = http.request(
      { host: verdict.address, port: target.port || 80, path: `${target.pathname}${target.search}`, method: req.method, headers, setHost: false },
      (up) => {
        up.on('error', () => res.destroy());
        try {
          res.writeHead(up.statusCode ?? 0, up.rawHeaders);
        } catch (err) {
          // Node's parser takes any three digits and writeHead refuses what it cannot send on
          // (099, 000): the server's fault, told to the page as a 502 of ours.
          up.destroy();
          const status = up.statusCode ?? 0;
          const what = status < 100 || status > 999 ? `an invalid HTTP status (${String(status).padStart(3, '0')})` : `headers that cannot be passed on (${(err as Error).message})`;
          this.upstreamFailed(res, target, `${target.host} answered with ${what}`);
          return;
        }
        up.pipe(res);
      },
    );
    upstream.on('error', (err) => this.upstreamFailed(res, target, `connecting to ${target.host} failed (${(err as NodeJS.ErrnoException).code ?? err.message})`));
    req.pipe(upstream);
  }

  /** The request could not be served from upstream: remembered for the task, answered with a 502 of ours. */
  private upstreamFailed(res: http.ServerResponse, target: URL, reason: string): void {
    this.sink(target.hostname, reason, false);
    this.log.debug({ url: redactUrl(target.href), reason }, 'upstream failed');
    if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain', [EGRESS_HEADER]: 'failed' }).end(`${reason}\n`);
    else res.destroy();
  }

  private async tunnel(req: IncomingMessage, client: Socket, head: Buffer): Promise<void> {
    const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(req.url ?? '');
    if (!m || !m[1] || !m[2]) {
      client.end('HTTP/1.1 400 Bad Request\r\n\r\n');
      return;
    }
    const host = m[1];
    const port = Number(m[2]);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      client.end('HTTP/1.1 400 Bad Request\r\n\r\n');
      return;
    }
    const verdict = await this.check(host);
    if ('status' in verdict) {
      client.end(`HTTP/1.1 ${verdict.status} ${verdict.status === 403 ? 'Forbidden' : 'Bad Gateway'}\r\nx-webcast-egress: refused\r\n\r\n`);
      return;
    }
    const upstream = net.connect(port, verdict.address, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', (err) => {
      this.sink(host, `connecting to ${host}:${port} failed (${(err as NodeJS.ErrnoException).code ?? err.message})`, false);
      if (client.writable) client.end('HTTP/1.1 502 Bad Gateway\r\n\r\n');
    });
    client.on('close', () => upstream.destroy());
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((r) => this.server.close(r));
  }
}
