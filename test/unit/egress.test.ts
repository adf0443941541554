import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { EgressPolicy } from '../../src/capture/egress-policy.js';
import { EGRESS_HEADER, EgressProxy } from '../../src/capture/egress-proxy.js';
import { NameLookup } from '../../src/name-lookup.js';
import { startDnsServer } from '../helpers/dns-server.js';

const log = pino({ level: 'silent' });

/** A request through the proxy, as Chromium makes it: absolute URL for http, CONNECT for https. */
function viaProxy(proxy: string, url: string): Promise<{ status: number; egress?: string; body: string }> {
  const p = new URL(proxy);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: p.hostname, port: p.port, method: 'GET', path: url, headers: { host: new URL(url).host } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, egress: res.headers[EGRESS_HEADER] as string | undefined, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function connectVia(proxy: string, target: string): Promise<number> {
  const p = new URL(proxy);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: p.hostname, port: p.port, method: 'CONNECT', path: target });
    req.on('connect', (res, socket) => {
      socket.destroy();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the egress policy and proxy (SSRF guard)', () => {
  let site: http.Server;
  let sitePort = 0;
  const proxies: EgressProxy[] = [];
  const proxyWith = async (allow: string[]) => {
    const proxy = new EgressProxy(new EgressPolicy(allow), log);
    proxies.push(proxy);
    return proxy.listen();
  };
  before(async () => {
    site = http.createServer((_req, res) => res.end('hello from the site'));
    await new Promise<void>((r) => site.listen(0, '127.0.0.1', r));
    sitePort = (site.address() as AddressInfo).port;
  });
  after(async () => {
    await Promise.all(proxies.map((p) => p.close()));
    site.close();
  });

  it('refuses loopback, private, link-local, CGNAT, multicast and unspecified addresses, and allows public ones', () => {
    const policy = new EgressPolicy();
    for (const a of ['127.0.0.1', '10.0.0.1', '172.16.5.4', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '224.0.0.1', '::1', 'fd00::1', 'fe80::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1']) {
      assert.ok(policy.refusal('h', a), `${a} should be refused`);
    }
    for (const a of ['93.184.216.34', '1.1.1.1', '2606:4700:4700::1111']) assert.equal(policy.refusal('h', a), undefined, `${a} should be allowed`);
  });

  it('opens the allowlisted hosts and CIDRs only', () => {
    const policy = new EgressPolicy(['127.0.0.1', '10.8.0.0/16', 'intranet.example']);
    assert.equal(policy.refusal('x', '127.0.0.1'), undefined);
    assert.equal(policy.refusal('x', '10.8.3.4'), undefined);
    assert.ok(policy.refusal('x', '10.9.0.1'));
    assert.ok(policy.refusal('x', '::1'), 'IPv6 loopback is not 127.0.0.1');
    assert.equal(policy.refusal('intranet.example', '192.168.1.1'), undefined);
    assert.throws(() => EgressPolicy.parseList('10.0.0.0/33'), /not a valid CIDR/);
  });

  it('forwards to an allowed address, and refuses a loopback one with 403 and the reason', async () => {
    const open = await proxyWith(['127.0.0.1']);
    const ok = await viaProxy(open, `http://127.0.0.1:${sitePort}/`);
    assert.deepEqual([ok.status, ok.body], [200, 'hello from the site']);
    const closed = await proxyWith([]);
    const refused = await viaProxy(closed, `http://127.0.0.1:${sitePort}/`);
    assert.equal(refused.status, 403);
    assert.equal(refused.egress, 'refused');
    assert.match(refused.body, /127\.0\.0\.1 is a loopback address/);
    const byName = await viaProxy(closed, `http://localhost:${sitePort}/`);
    assert.equal(byName.status, 403, 'a name that resolves to loopback is refused too');
  });

  it('refuses HTTPS tunnels to private and metadata addresses before connecting', async () => {
    const proxy = await proxyWith([]);
    assert.equal(await connectVia(proxy, '10.0.0.1:443'), 403);
    assert.equal(await connectVia(proxy, '169.254.169.254:80'), 403);
    assert.equal(await connectVia(proxy, `[::1]:${sitePort}`), 403);
    // The reason a failed task gives, looked up by its URL's hostname, brackets and all.
    assert.match(proxies.at(-1)?.failureFor(new URL(`https://[::1]:${sitePort}/`).hostname) ?? '', /::1 is a loopback address/);
    assert.equal((await viaProxy(proxy, 'http://[fd00::7]/')).status, 403);
    assert.match(proxies.at(-1)?.failureFor(new URL('http://[FD00::7]/').hostname) ?? '', /fd00::7 is a/);
    assert.equal(await connectVia(proxy, `127.0.0.1:${sitePort}`), 403);
    const open = await proxyWith(['127.0.0.1']);
    assert.equal(await connectVia(open, `127.0.0.1:${sitePort}`), 200);
  });

  it('answers a name that does not resolve with 502 and remembers why', async () => {
    const url = await proxyWith([]);
    const res = await viaProxy(url, 'http://no-such-host.invalid/');
    assert.equal(res.status, 502);
    assert.equal(res.egress, 'failed');
    assert.match(proxies.at(-1)?.failureFor('no-such-host.invalid') ?? '', /DNS lookup of no-such-host\.invalid failed/);
  });

  it('serves a named site while 64 requests wait on names DNS never answers, and then says so', async () => {
    const dns = await startDnsServer({ names: { 'site.test': ['127.0.0.1'] }, silent: (n) => n.endsWith('.silent.test') });
    try {
      const names = new NameLookup({ servers: [dns.server], hostsFile: '/dev/null', tryMs: 1000, tries: 1 });
      const proxy = new EgressProxy(new EgressPolicy(['site.test'], names), log);
      proxies.push(proxy);
      const url = await proxy.listen();
      let settled = 0;
      const waiting = Array.from({ length: 64 }, (_, i) => viaProxy(url, `http://n${i}.silent.test/`).finally(() => (settled += 1)));
      const site = await viaProxy(url, `http://site.test:${sitePort}/`);
      assert.deepEqual([site.status, site.body, settled], [200, 'hello from the site', 0], 'the named site answered before any silent name gave up');
      const silent = await Promise.all(waiting);
      silent.forEach((r, i) => assert.deepEqual([r.status, r.egress, r.body.trim()], [502, 'failed', `DNS lookup of n${i}.silent.test failed (ETIMEOUT)`]));
    } finally {
      dns.close();
    }
  });
});
