import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { EgressProxyProcess } from '../../src/capture/egress-proxy-process.js';
import { parseFromEgress } from '../../src/capture/egress-protocol.js';
import { waitFor } from '../helpers/node.js';

/** A GET through the proxy as Chromium makes it (an absolute URL); the status, or the connection's error code. */
function viaProxy(proxy: string, url: string): Promise<number | string> {
  const p = new URL(proxy);
  return new Promise((resolve) => {
    const req = http.request({ host: p.hostname, port: p.port, method: 'GET', path: url, headers: { host: new URL(url).host } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    req.end();
  });
}

const status = (pid: number): string => readFileSync(`/proc/${pid}/status`, 'utf8');

describe('the egress proxy in a process of its own (egress-proxy-process.ts)', () => {
  let site: http.Server;
  let siteUrl = '';
  const lines: { level: number; msg: string }[] = [];
  const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l) as { level: number; msg: string }) });
  let refusals = 0;
  const proxy = new EgressProxyProcess({ allowlist: ['127.0.0.1'], log, onRefused: () => (refusals += 1) });
  let url = '';
  before(async () => {
    site = http.createServer((_req, res) => res.end('hello'));
    await new Promise<void>((r) => site.listen(0, '127.0.0.1', r));
    siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}/`;
    url = await proxy.listen();
  });
  after(async () => {
    await proxy.close();
    site.close();
  });

  it('forwards what the policy allows, refuses the rest, and tells the service of both', async () => {
    assert.equal(await viaProxy(url, siteUrl), 200);
    assert.equal(await viaProxy(url, 'http://10.1.2.3/'), 403);
    assert.equal(await viaProxy(url, 'http://10.1.2.3/again'), 403);
    await waitFor('the refusals counted', async () => refusals === 2, 5000, 20);
    assert.match(proxy.failureFor('10.1.2.3') ?? '', /10\.1\.2\.3 is a private address/);
    const told = lines.filter((l) => l.msg === 'cloud browser request refused');
    assert.equal(told.length, 1, 'the log tells the host once');
  });

  it('holds no capability, cannot gain one, and is not root', () => {
    const pid = proxy.pid;
    assert.ok(pid, 'the process runs');
    const s = status(pid);
    assert.match(s, /^CapEff:\s+0+$/m);
    assert.match(s, /^CapAmb:\s+0+$/m);
    assert.match(s, /^NoNewPrivs:\s+1$/m);
    if (process.getuid?.() === 0) assert.match(s, /^Uid:\s+65534\s/m, 'as root, it runs as nobody');
  });

  it('is started again on the same port when it dies, and ends with close()', async () => {
    const first = proxy.pid;
    assert.ok(first);
    process.kill(first, 'SIGKILL');
    await waitFor('the proxy back', async () => proxy.pid !== undefined && proxy.pid !== first && (await viaProxy(url, siteUrl)) === 200, 20_000, 100);
    assert.ok(lines.some((l) => l.msg.startsWith('the egress proxy stopped')), 'the stop is logged');
    const second = proxy.pid;
    await proxy.close();
    assert.equal(proxy.pid, undefined);
    assert.throws(() => process.kill(second ?? 0, 0), 'the process is gone');
    // Nothing of ours serves the port any more. (Not "refused": once free, another process may
    // take the port, as one did in ci126, and reset the connection.)
    assert.notEqual(await viaProxy(url, siteUrl), 200, 'the proxy no longer serves its port');
  });

  it('takes from the process only what it may say, cut to size: a process made to say otherwise is not listened to', () => {
    assert.deepEqual(parseFromEgress({ type: 'log', level: 'info', fields: { host: 'h' }, msg: 'cloud browser request refused' }), { type: 'log', level: 'info', fields: { host: 'h' }, msg: 'cloud browser request refused' });
    assert.equal(parseFromEgress({ type: 'log', level: 'child', fields: {}, msg: 'x' }), undefined, 'a method of the logger that is no level');
    assert.equal(parseFromEgress({ type: 'log', level: 'fatal', fields: {}, msg: 'x' }), undefined, 'nor a level it never logs at');
    assert.equal(parseFromEgress({ type: 'log', level: 'info', fields: null, msg: 'x' }), undefined);
    assert.equal(parseFromEgress({ type: 'log', level: 'info', fields: [], msg: 'x' }), undefined);
    assert.equal(parseFromEgress({ type: 'failure', host: 'h'.repeat(301), reason: 'r' }), undefined);
    assert.equal(parseFromEgress({ type: 'ready', port: 70_000 }), undefined);
    assert.equal(parseFromEgress({ type: 'exit' }), undefined);
    for (const junk of [null, 7, 'ready', [], {}]) assert.equal(parseFromEgress(junk), undefined);
    const long = parseFromEgress({ type: 'log', level: 'warn', fields: {}, msg: 'm'.repeat(10_000) });
    assert.equal(long?.type === 'log' && long.msg.length, 200);
  });
});
