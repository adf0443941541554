import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { NameLookup, parseHosts } from '../../src/name-lookup.js';
import { startDnsServer, type DnsServer } from '../helpers/dns-server.js';

describe('host names looked up for pages and callbacks (name-lookup.ts)', () => {
  let dns: DnsServer;
  let dir: string;
  let hostsFile: string;
  const names = (): NameLookup => new NameLookup({ servers: [dns.server], hostsFile, tryMs: 150, tries: 2 });
  before(async () => {
    dns = await startDnsServer({
      names: { 'both.test': ['192.0.2.1', '2001:db8::1'], 'v4.test': ['192.0.2.2'], 'in-both.test': ['192.0.2.3'] },
      silent: (name) => name.endsWith('.silent.test'),
    });
    dir = mkdtempSync(path.join(tmpdir(), 'webcast-names-'));
    hostsFile = path.join(dir, 'hosts');
    writeFileSync(hostsFile, '# the machine\n127.0.0.1\tlocalhost\n10.8.0.5 intranet.example Intranet-Alias # a comment\n::1 localhost ip6-localhost\n10.9.9.9 in-both.test\nnot-an-address bogus.test\n');
  });
  after(() => {
    dns.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads the hosts file as glibc does: every address of a name, aliases, comments, any case', () => {
    const byName = parseHosts('127.0.0.1 localhost\n::1 localhost\n# 10.0.0.1 commented.test\n10.8.0.5 A.test b.test#x\n\nnonsense here\n');
    assert.deepEqual(byName.get('localhost'), ['127.0.0.1', '::1']);
    assert.deepEqual(byName.get('a.test'), ['10.8.0.5']);
    assert.deepEqual(byName.get('b.test'), ['10.8.0.5']);
    assert.equal(byName.has('commented.test'), false);
    assert.equal(byName.has('here'), false);
  });

  it('answers a name of the hosts file from there alone, and asks DNS for the others, both families', async () => {
    const n = names();
    assert.deepEqual(await n.addresses('intranet.example'), ['10.8.0.5']);
    assert.deepEqual(await n.addresses('INTRANET-alias.'), ['10.8.0.5']);
    assert.deepEqual(await n.addresses('localhost'), ['127.0.0.1', '::1']);
    assert.deepEqual(await n.addresses('in-both.test'), ['10.9.9.9'], 'the hosts file wins over DNS');
    assert.equal(dns.asked((q) => q === 'intranet.example' || q === 'in-both.test' || q === 'localhost'), 0, 'DNS is not asked for names of the hosts file');
    assert.deepEqual(await n.addresses('both.test'), ['192.0.2.1', '2001:db8::1']);
    assert.deepEqual(await n.addresses('v4.test'), ['192.0.2.2']);
    assert.deepEqual(await n.addresses('[2001:db8::7]'), ['2001:db8::7'], 'an address is its own answer');
  });

  it('follows the hosts file when it changes', async () => {
    const n = names();
    assert.deepEqual(await n.addresses('moved.example').catch((e: NodeJS.ErrnoException) => e.code), 'ENOTFOUND');
    const before = await readFile(hostsFile, 'utf8');
    writeFileSync(hostsFile, `${before}10.7.7.7 moved.example\n`);
    try {
      assert.deepEqual(await n.addresses('moved.example'), ['10.7.7.7']);
    } finally {
      writeFileSync(hostsFile, before);
    }
  });

  it('says why a name has no address: no such name, or no answer from DNS in bounded time', async () => {
    const n = names();
    await assert.rejects(n.addresses('nowhere.test'), (e: NodeJS.ErrnoException) => e.code === 'ENOTFOUND' && /looking up nowhere\.test: no such name/.test(e.message));
    const t0 = performance.now();
    await assert.rejects(n.addresses('a.silent.test'), (e: NodeJS.ErrnoException) => e.code === 'ETIMEOUT' && /DNS did not answer/.test(e.message));
    // 150 ms, then 300: well under glibc's 10 s.
    assert.ok(performance.now() - t0 < 3000, `gave up after ${Math.round(performance.now() - t0)} ms`);
  });

  it('keeps libuv threads free: while 64 names wait on a silent DNS, other names are answered and files are read', async () => {
    const n = new NameLookup({ servers: [dns.server], hostsFile, tryMs: 2000, tries: 1 });
    let settled = 0;
    const waiting = Array.from({ length: 64 }, (_, i) => n.addresses(`x${i}.silent.test`).catch(() => undefined).finally(() => settled++));
    assert.deepEqual(await n.addresses('both.test'), ['192.0.2.1', '2001:db8::1']);
    // File system calls run on the same four threads getaddrinfo would have held.
    await Promise.all(Array.from({ length: 16 }, () => readFile(hostsFile)));
    assert.equal(settled, 0, 'the silent names were still waiting: the answer did not queue behind them');
    assert.ok(dns.asked((q) => q.endsWith('.silent.test')) >= 64, 'every silent name was asked at once');
    await Promise.all(waiting);
  });

  it('serves net.connect and http.request as their lookup option', async () => {
    const n = names();
    const call = (host: string, options: { family?: number; all?: boolean }) =>
      new Promise<unknown>((resolve, reject) => n.lookup(host, options, (err, address, family) => (err ? reject(err) : resolve(options.all ? address : [address, family]))));
    assert.deepEqual(await call('both.test', {}), ['192.0.2.1', 4]);
    assert.deepEqual(await call('both.test', { family: 6 }), ['2001:db8::1', 6]);
    assert.deepEqual(await call('both.test', { all: true }), [{ address: '192.0.2.1', family: 4 }, { address: '2001:db8::1', family: 6 }]);
    await assert.rejects(call('v4.test', { family: 6 }), /no IPv6 address/);
    await assert.rejects(call('nowhere.test', {}), (e: NodeJS.ErrnoException) => e.code === 'ENOTFOUND');
  });
});
