/**
 * The egress proxy (egress-proxy.ts) in a process of its own, started by egress-proxy-process.ts.
 * Every byte a page downloads passes through it twice: on the service's event loop a page
 * pulling 140-150 MB/s made every API call wait (GetWebCastTask 83-99 ms at the median instead
 * of 3.5 ms; 250 ms beside two such pages, 2026-11-28). Here that work waits on its own loop.
 * It holds no capability, and runs as nobody when the service is root.
 */
import { EgressPolicy } from './egress-policy.js';
import { EgressProxy, type EgressLog } from './egress-proxy.js';
import type { EgressSettings, FromEgress } from './egress-protocol.js';

const settings = JSON.parse(process.env.WEBCAST_EGRESS_SETTINGS ?? '{}') as Partial<EgressSettings>;
const send = (message: FromEgress): void => {
  if (process.connected) process.send?.(message);
};
const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];
const least = Math.max(0, LEVELS.indexOf(settings.logLevel ?? 'info'));
const line = (level: 'debug' | 'info' | 'warn') => (fields: Record<string, unknown>, msg: string): void => {
  if (LEVELS.indexOf(level) >= least) send({ type: 'log', level, fields, msg });
};
const log: EgressLog = { debug: line('debug'), info: line('info'), warn: line('warn') };

// The service is this process's only reason to be: it ends with it (setpriv's --pdeathsig too),
// and only by it: Ctrl-C in a terminal reaches the whole process group, while the service is still
// finishing its tasks, whose pages need their proxy to the end.
process.on('disconnect', () => process.exit(0));
process.on('SIGINT', () => undefined);

// Each refusal and failure once, to the service, which remembers them for its tasks and counts the refusals.
const proxy = new EgressProxy(EgressPolicy.parseList((settings.allowlist ?? []).join(',')), log, (host, reason, refused) => send({ type: 'failure', host, reason, refused }));
proxy.listen(settings.port ?? 0).then(
  (url) => send({ type: 'ready', port: Number(new URL(url).port) }),
  (err: unknown) => {
    send({ type: 'failed', message: (err as Error).message });
    process.exit(1);
  },
);
