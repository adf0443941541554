import pino from 'pino';
import { BrowserFirewall } from '../../src/capture/browser-firewall.js';

/**
 * A node's browser firewall alone, run as a process of its own (in a PID namespace of its own,
 * as a container on the host's network runs a node): `firewall-node.ts KEY FIRST LAST`. Prints
 * "ready" once its rules are in, or "refused: …" and exits 3; takes them away at SIGTERM.
 */
const [key = 'firewall-node', first = '0', last = '0'] = process.argv.slice(2);
try {
  const firewall = await BrowserFirewall.install({ first: Number(first), last: Number(last) }, key, { proxyPort: 3, allowlist: [] }, pino({ level: 'silent' }));
  if (!firewall) throw new Error('no firewall here');
  process.stdout.write('ready\n');
  process.on('SIGTERM', () => void firewall.remove().then(() => process.exit(0)));
  setInterval(() => undefined, 60_000);
} catch (err) {
  process.stdout.write(`refused: ${(err as Error).message}\n`);
  process.exit(3);
}
