import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import pino from 'pino';
import { BrowserFirewall } from '../../src/capture/browser-firewall.js';

/**
 * The netfilter rules for the browsers' uids, with real processes of those uids sending real
 * datagrams: what a page's WebRTC could reach, without a browser in between.
 */

const notRoot = process.getuid?.() !== 0 && 'needs root, as the service needs it for the browser firewall';
const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// Two browsers' uids from the service's default range: two tasks of one node.
const TASK_A = 2000999990;
const TASK_B = 2000999991;

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

const hasIpv6 = async (): Promise<boolean> => run('ip6tables', ['-w', '-S', 'OUTPUT']).then(() => true, () => false);

describe('the browser firewall with real processes of the browsers\' uids', { skip: notRoot }, () => {
  let firewall: BrowserFirewall | undefined;

  before(async () => {
    firewall = await BrowserFirewall.install({ first: 2000000000, last: 2000999999 }, 'firewall-test', { proxyPort: 1, allowlist: [] }, pino({ level: 'silent' }));
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
});
