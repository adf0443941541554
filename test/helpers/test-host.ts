import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { viewerFeaturesOff } from './subscriber.js';

/**
 * A host of the test's own with a public address, in a network namespace on this machine, so
 * that a test can show what a page may reach beside what it may not. The whole /16 is a
 * blackhole route first: nothing meant for the test host can leave the machine, even while
 * the namespace is being made or taken down.
 */
export const PUBLIC_NET = '11.99';

export interface TestHost {
  address: string;
  /** A UDP listener on the test host; `count()` says how many datagrams reached it. */
  listenUdp(port: number): Promise<{ count(): number; close(): void }>;
  /** A headless Chromium running on the test host, as a public WebRTC server would. */
  launchChromium(): Promise<Browser>;
  close(): void;
}

const ip = (...args: string[]): void => void execFileSync('ip', args, { stdio: 'ignore' });

export function startTestHost(): TestHost {
  const id = randomBytes(3).toString('hex');
  const ns = `webcast-test-${id}`;
  const outside = `wct${id}h`;
  const inside = `wct${id}n`;
  const third = parseInt(id.slice(0, 2), 16) % 250;
  const [hostSide, address] = [`${PUBLIC_NET}.${third}.1`, `${PUBLIC_NET}.${third}.2`];
  const children: ChildProcess[] = [];
  try {
    execFileSync('ip', ['route', 'replace', 'blackhole', `${PUBLIC_NET}.0.0/16`], { stdio: 'ignore' });
  } catch {
    // another test host made it already
  }
  ip('netns', 'add', ns);
  ip('link', 'add', outside, 'type', 'veth', 'peer', 'name', inside);
  ip('link', 'set', inside, 'netns', ns);
  ip('addr', 'add', `${hostSide}/30`, 'dev', outside);
  ip('link', 'set', outside, 'up');
  ip('netns', 'exec', ns, 'ip', 'addr', 'add', `${address}/30`, 'dev', inside);
  ip('netns', 'exec', ns, 'ip', 'link', 'set', inside, 'up');
  ip('netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up');
  // Chromium gathers no WebRTC candidate on a host without a default route. What the test host
  // sends through it reaches this machine and nothing beyond, even where the machine forwards.
  execFileSync('iptables', ['-w', '-I', 'FORWARD', '-i', outside, '-j', 'DROP'], { stdio: 'ignore' });
  ip('netns', 'exec', ns, 'ip', 'route', 'add', 'default', 'via', hostSide);
  return {
    address,
    async listenUdp(port) {
      const script = `const s = require('dgram').createSocket('udp4'); s.on('message', () => process.stdout.write('.')); s.bind(${port}, '0.0.0.0', () => process.stdout.write('ready\\n'));`;
      // Its own pipes: a child left holding the test's stderr would keep the test runner waiting.
      const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(child);
      let out = '';
      let err = '';
      child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
      const deadline = Date.now() + 5000;
      while (!out.includes('ready') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      if (!out.includes('ready')) throw new Error(`the UDP listener in ${ns} did not start: ${err}`);
      return { count: () => out.replace('ready\n', '').length, close: () => child.kill() };
    },
    async launchChromium() {
      const profile = mkdtempSync(path.join(tmpdir(), 'webcast-test-host-'));
      const browser = await chromium.launch({
        executablePath: '/usr/sbin/ip',
        ignoreDefaultArgs: true,
        args: ['netns', 'exec', ns, process.env.WEBCAST_CHROMIUM_PATH ?? '/usr/bin/chromium', '--headless', '--remote-debugging-pipe', `--user-data-dir=${profile}`,
          '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', viewerFeaturesOff('WebRtcHideLocalIpsWithMdns')],
      });
      // Chromium's helpers may still write for a moment after it closed.
      browser.once('disconnected', () => setTimeout(() => rmSync(profile, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 }), 200));
      return browser;
    },
    close() {
      for (const c of children) c.kill();
      try {
        ip('netns', 'del', ns);
      } catch {
        // already gone
      }
      try {
        ip('link', 'del', outside);
      } catch {
        // went with the namespace
      }
      try {
        execFileSync('iptables', ['-w', '-D', 'FORWARD', '-i', outside, '-j', 'DROP'], { stdio: 'ignore' });
      } catch {
        // already gone
      }
    },
  };
}
