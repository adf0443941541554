import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { EgressPolicy } from '../../src/capture/egress-policy.js';
import { EGRESS_HEADER, EgressProxy } from '../../src/capture/egress-proxy.js';

/**
 * Any bytes from a server a page fetches from, or from the browser side, must leave the proxy
 * (and so the node) serving: a fault stays with its own request.
 */

const log = pino({ level: 'silent' });

/** A server on loopback that answers every connection with `reply()`'s bytes, then closes. */
async function rawServer(reply: () => Buffer | string): Promise<{ port: number; close(): Promise<void> }> {
  const server = net.createServer((s) => {
    s.on('error', () => undefined);
    s.once('data', () => s.end(reply()));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/** Sends `bytes` to the proxy as a client and returns what came back (or '' on a reset). */
function rawClient(proxyPort: number, bytes: Buffer | string, waitMs = 1000): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(proxyPort, '127.0.0.1', () => s.write(bytes));
    let out = '';
    s.on('data', (d: Buffer) => (out += d.toString('latin1')));
    s.on('error', () => resolve(out));
    s.on('close', () => resolve(out));
    setTimeout(() => s.destroy(), waitMs).unref();
  });
}

function get(proxyPort: number, url: string): Promise<{ status: number; egress?: string; body: string }> {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port: proxyPort, path: url, headers: { host: new URL(url).host } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, egress: res.headers[EGRESS_HEADER] as string | undefined, body }));
      res.on('error', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', () => resolve({ status: 0, body: '' }));
    req.end();
  });
}

describe('the egress proxy under bad bytes', { timeout: 60_000 }, () => {
  let proxy: EgressProxy;
  let proxyPort = 0;
  let healthy: http.Server;
  let healthyPort = 0;
  before(async () => {
    proxy = new EgressProxy(new EgressPolicy(['127.0.0.1']), log);
    proxyPort = Number(new URL(await proxy.listen()).port);
    healthy = http.createServer((_q, r) => r.end('fine'));
    await new Promise<void>((r) => healthy.listen(0, '127.0.0.1', r));
    healthyPort = (healthy.address() as net.AddressInfo).port;
  });
  after(async () => {
    await proxy.close();
    await new Promise((r) => healthy.close(r));
  });

  /** The proxy still forwards an ordinary request. */
  const stillServes = async () => assert.deepEqual(await get(proxyPort, `http://127.0.0.1:${healthyPort}/`).then((r) => [r.status, r.body]), [200, 'fine']);

  it('answers a status line below 100 or of zeros with a 502 that says why, and keeps serving', async () => {
    for (const line of ['HTTP/1.1 099 Odd', 'HTTP/1.1 000 Zero', 'HTTP/1.1 001 X']) {
      const up = await rawServer(() => `${line}\r\ncontent-length: 2\r\n\r\nhi`);
      try {
        const r = await get(proxyPort, `http://127.0.0.1:${up.port}/`);
        assert.equal(r.status, 502, line);
        assert.equal(r.egress, 'failed');
        assert.match(r.body, /invalid HTTP status/);
        assert.match(proxy.failureFor('127.0.0.1') ?? '', /invalid HTTP status/);
      } finally {
        await up.close();
      }
      await stillServes();
    }
  });

  it('survives broken responses: bad headers, bad chunking, early closes, garbage', async () => {
    const replies = [
      'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nnot hex\r\n',
      'HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nshort',
      'HTTP/1.1 200 OK\r\nbad header line\r\n\r\n',
      'HTTP/1.1 200 OK\r\nx: a\u0000b\r\n\r\n',
      'HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nab',
      'HTTP/1.1 ',
      '',
      '\u0000\u00ff\u00fe garbage',
      `HTTP/1.1 200 OK\r\nx: ${'a'.repeat(100_000)}\r\n\r\n`,
    ];
    for (const reply of replies) {
      const up = await rawServer(() => Buffer.from(reply, 'latin1'));
      try {
        await get(proxyPort, `http://127.0.0.1:${up.port}/`);
      } finally {
        await up.close();
      }
    }
    await stillServes();
  });

  it('survives random responses from upstream (200 of them)', async () => {
    let next = Buffer.alloc(0);
    const up = await rawServer(() => next);
    try {
      for (let i = 0; i < 200; i += 1) {
        const head = i % 2 === 0 ? `HTTP/1.1 ${String(i % 1000).padStart(3, '0')} R\r\n` : '';
        next = Buffer.concat([Buffer.from(head), randomBytes(1 + (i % 64))]);
        await get(proxyPort, `http://127.0.0.1:${up.port}/r${i}`);
      }
    } finally {
      await up.close();
    }
    await stillServes();
  });

  it('refuses CONNECT to impossible ports and odd targets with 400, and keeps serving', async () => {
    for (const target of ['127.0.0.1:99999', '127.0.0.1:0', '127.0.0.1:65536', '[::1]:700000', 'a:b:c', ':80', '127.0.0.1:', '[::1']) {
      const answer = await rawClient(proxyPort, `CONNECT ${target} HTTP/1.1\r\nhost: ${target}\r\n\r\n`);
      assert.match(answer, /^HTTP\/1\.1 (400|403|502)/, `${target}: ${answer.slice(0, 40)}`);
    }
    await stillServes();
  });

  it('survives random bytes from the browser side (200 requests)', async () => {
    const starts = ['GET ', 'CONNECT ', 'POST http://127.0.0.1/ HTTP/1.1\r\ncontent-length: 5\r\n\r\n', ''];
    for (let i = 0; i < 200; i += 1) {
      await rawClient(proxyPort, Buffer.concat([Buffer.from(starts[i % starts.length] ?? ''), randomBytes(1 + (i % 80))]), 100);
    }
    await stillServes();
  });
});
