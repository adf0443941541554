import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import dgram from 'node:dgram';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import pino from 'pino';
import { BrowserFirewall, BrowserUidsInUse } from '../../src/capture/browser-firewall.js';
import { procStat } from '../../src/capture/proc-stat.js';
import { waitFor } from '../helpers/node.js';
import { allPids } from '../helpers/procfs.js';

/**
 * The netfilter rules for the browsers' uids, with real processes of those uids sending real
 * datagrams: what a page's WebRTC could reach, without a browser in between.
 */

const notRoot = process.getuid?.() !== 0 && 'needs root, as the service needs it for the browser firewall';
const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// A node's range at the top of the default one, which no other test gives to a node (a range
// another running node overlaps would keep that node from starting), and two tasks' uids of it.
const RANGE = { first: 2000999900, last: 2000999999 };
const TASK_A = 2000999990;
const TASK_B = 2000999991;
const quiet = pino({ level: 'silent' });

interface Listener {
  port: number;
  hits(): number;
  close(): void;
}

async function listen(type: 'udp4' | 'udp6', address: string): Promise<Listener> {
  const socket = dgram.createSocket(type);
  let hits = 0;
  socket.on('message', () => (hits += 1));
  await new Promise<void>((resolve) => socket.bind(0, address, resolve));
  return { port: socket.address().port, hits: () => hits, close: () => socket.close() };
}

/** Five datagrams from a process of `uid`, through bash's /dev/udp. */
async function sendAs(uid: number, address: string, port: number): Promise<void> {
  const script = `for i in 1 2 3 4 5; do echo hit 2>/dev/null > /dev/udp/${address}/${port}; done; true`;
  await run('setpriv', [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', 'bash', '-c', script]);
  await sleep(200);
}

const FIREWALL_NODE = path.join(path.dirname(fileURLToPath(import.meta.url)), '../helpers/firewall-node.ts');

/**
 * A node's firewall in a PID namespace of its own, on this network: as a node in a container
 * with the host's network runs. Resolves once it printed its first line ("ready" or "refused: …").
 */
async function nodeInOwnPidNamespace(key: string, first: number, last: number): Promise<{ child: ChildProcess; said: string }> {
  // --kill-child: the node is the namespace's PID 1; a SIGKILL of unshare ends it and its namespace.
  const child = spawn('unshare', ['--pid', '--fork', '--mount-proc', '--kill-child', '--', process.execPath, '--import', 'tsx', FIREWALL_NODE, key, String(first), String(last)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const said = await new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(out.split('\n')[0] ?? '');
    });
    child.once('exit', (code) => reject(new Error(`the node exited with ${code}: ${out}`)));
  });
  return { child, said };
}

const rulesTagged = async (key: string): Promise<number> => (await run('iptables', ['-w', '-S'])).stdout.split('\n').filter((l) => l.includes(`"webcast-node:${key}:`)).length;

const hasIpv6 = async (): Promise<boolean> => run('ip6tables', ['-w', '-S', 'OUTPUT']).then(() => true, () => false);

describe('the browser firewall with real processes of the browsers\' uids', { skip: notRoot }, () => {
  let firewall: BrowserFirewall | undefined;

  before(async () => {
    firewall = await BrowserFirewall.install(RANGE, 'firewall-test', { proxyPort: 1, allowlist: [] }, quiet);
    assert.ok(firewall, 'the firewall installs as root');
  });
  after(async () => firewall?.remove());

  for (const [family, type, address] of [['IPv4', 'udp4', '127.0.0.1'], ['IPv6', 'udp6', '::1']] as const) {
    it(`opens a publication's media port to its own task's browser alone, and only while it publishes (${family})`, async (t) => {
      if (family === 'IPv6' && !(await hasIpv6())) return t.skip('ip6tables does not work here');
      const media = await listen(type, address);
      try {
        // Closed before the publication: the node's own addresses are no page's to reach.
        await sendAs(TASK_A, address, media.port);
        assert.equal(media.hits(), 0, 'a browser reached a loopback port nobody opened');

        assert.ok(firewall);
        const close = await firewall.open([{ address, port: media.port }], TASK_A);
        await sendAs(TASK_A, address, media.port);
        assert.equal(media.hits(), 5, 'the task\'s own browser reaches its publication\'s candidate');
        await sendAs(TASK_B, address, media.port);
        assert.equal(media.hits(), 5, 'another task\'s browser reached this publication\'s candidate');

        await close();
        await sendAs(TASK_A, address, media.port);
        assert.equal(media.hits(), 5, 'the candidate stayed open after the publication ended');
        // The service's own processes are not confined.
        await sendAs(0, address, media.port);
        assert.equal(media.hits(), 10);
      } finally {
        media.close();
      }
    });
  }

  it('keeps a second node whose browser uids overlap a running node\'s from starting; one of its own range starts', async () => {
    // Each node's openings (its proxy, its allowlist) are for its own range: shared uids would
    // open one node's allowlist to the other's pages.
    await assert.rejects(
      BrowserFirewall.install({ first: 2000999950, last: 2001000049 }, 'firewall-test-overlapping', { proxyPort: 2, allowlist: ['127.0.0.1'] }, quiet),
      (err: Error) => err instanceof BrowserUidsInUse && /WEBCAST_BROWSER_UIDS 2000999950-2001000049 overlaps 2000999900-2000999999, the browser uids of another webcast node running on this machine/.test(err.message),
    );
    const rules = (await run('iptables', ['-w', '-S'])).stdout;
    assert.ok(!rules.includes('firewall-test-overlapping'), 'the refused node left rules behind');
    const neighbour = await BrowserFirewall.install({ first: 2001000000, last: 2001000099 }, 'firewall-test-neighbour', { proxyPort: 2, allowlist: [] }, quiet);
    assert.ok(neighbour);
    await neighbour.remove();
  });

  it('lets at most one of two nodes with overlapping browser uids start when they start at the same moment', async () => {
    for (let round = 0; round < 3; round += 1) {
      const starts = await Promise.allSettled(
        ['firewall-test-twin-a', 'firewall-test-twin-b'].map((key, i) => BrowserFirewall.install({ first: 2001000100 + 10 * i, last: 2001000149 }, key, { proxyPort: 2, allowlist: ['127.0.0.1'] }, quiet)),
      );
      const rules = (await run('iptables', ['-w', '-S'])).stdout;
      const started = starts.filter((s) => s.status === 'fulfilled');
      for (const s of started) await s.value?.remove();
      assert.ok(started.length <= 1, `round ${round}: both nodes started, each with the other's uids`);
      for (const [i, s] of starts.entries()) {
        if (s.status === 'fulfilled') continue;
        assert.ok(s.reason instanceof BrowserUidsInUse, String(s.reason));
        assert.ok(!rules.includes(`firewall-test-twin-${'ab'[i]}`), 'a node that backed out left rules behind');
      }
    }
  });

  it('leaves the rules of a node in another PID namespace on the same network while it runs, and takes them away once it is gone', async () => {
    // Before 2026-11-28 a node in a PID namespace of its own took this node's rules for a dead
    // node's (their pid is not in its namespace) and deleted them: this node's browsers were
    // then confined by nothing.
    const container = await nodeInOwnPidNamespace('firewall-test-container', 2001000200, 2001000249);
    try {
      assert.equal(container.said, 'ready');
      assert.ok((await rulesTagged('firewall-test')) >= 2, 'this node\'s jump and openings are still in place');
      const media = await listen('udp4', '127.0.0.1');
      try {
        await sendAs(TASK_A, '127.0.0.1', media.port);
        assert.equal(media.hits(), 0, 'this node\'s browsers are still confined');
      } finally {
        media.close();
      }
      // A node of this namespace, starting, sees the other node's process: it leaves its rules.
      const here = await BrowserFirewall.install({ first: 2001000300, last: 2001000349 }, 'firewall-test-host', { proxyPort: 2, allowlist: [] }, quiet);
      assert.ok((await rulesTagged('firewall-test-container')) >= 2, 'a node here took the running node of the other namespace for dead');
      await here?.remove();
      // A node of a third namespace, whose range overlaps this node's, cannot see this node: it
      // does not start, and says why.
      const overlapping = await nodeInOwnPidNamespace('firewall-test-overlap', 2000999950, 2000999960);
      overlapping.child.kill('SIGKILL');
      assert.match(overlapping.said, /^refused: WEBCAST_BROWSER_UIDS 2000999950-2000999960 overlaps 2000999900-2000999999, the browser uids of a webcast node in another PID namespace/);
    } finally {
      // The node (unshare's child, the namespace's PID 1) dies after unshare: wait for it too.
      const inside = allPids().filter((pid) => procStat(pid)?.ppid === container.child.pid);
      container.child.kill('SIGKILL');
      await waitFor('the node and its namespace gone', async () => inside.every((pid) => !existsSync(`/proc/${pid}`)), 5000, 50);
    }
    // Killed with its namespace, it left its rules; the next node of this namespace, which sees
    // every process of the machine, takes them away.
    assert.ok((await rulesTagged('firewall-test-container')) >= 2, 'the killed node left its rules (the check works)');
    const next = await BrowserFirewall.install({ first: 2001000300, last: 2001000349 }, 'firewall-test-host', { proxyPort: 2, allowlist: [] }, quiet);
    await next?.remove();
    assert.equal(await rulesTagged('firewall-test-container'), 0, 'the dead node\'s rules stayed');
  });
});
