import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { spawnHelper, unreadableByNobody } from '../child-user.js';
import { FailureMemory, type EgressFailures } from './egress-proxy.js';
import { parseFromEgress, type EgressSettings, type FromEgress } from './egress-protocol.js';

const SCRIPT = fileURLToPath(new URL('./egress-process.ts', import.meta.url));
/** Loading its TypeScript takes about a second; on a busy node many more. */
const START_TIMEOUT_MS = 30_000;
/** Its heap: a few hundred connections' buffers; a leak ends it, not the service. */
const HEAP_MB = 256;
/** Waits before starting it again after it stopped, doubled after each failed start. */
const RESTART_MS = [500, 1000, 2000, 5000, 10_000, 30_000];
const STOP_GRACE_MS = 3000;

export interface EgressProxyProcessOptions {
  /** WEBCAST_URL_ALLOWLIST's entries. */
  allowlist: readonly string[];
  log: Logger;
  /** Every refusal, told in the log or not (a metric). */
  onRefused?: () => void;
}

/**
 * The egress proxy in a process of its own (egress-process.ts), so that the bytes pages pull
 * through it do not wait on, nor hold up, the service's event loop, and a fault in it ends that
 * process, not the service. It holds no capability, runs as nobody when the service is root (and
 * nobody may read its code), and dies with the service. Stopped, it is started again on the
 * same port, which the browsers' firewall opens; pages' requests fail until it is back.
 */
export class EgressProxyProcess implements EgressFailures {
  private child: ChildProcess | undefined;
  private port = 0;
  private closed = false;
  private restarts = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private readonly failures = new FailureMemory();
  private warnedAsSelf = false;

  constructor(private readonly o: EgressProxyProcessOptions) {}

  /** Starts the process and names its port as the browsers' proxy: `http://127.0.0.1:PORT`. */
  async listen(): Promise<string> {
    const started = performance.now();
    this.port = await this.start();
    this.o.log.info({ pid: this.pid, port: this.port, ms: Math.round(performance.now() - started) }, 'egress proxy ready, in a process of its own');
    return `http://127.0.0.1:${this.port}`;
  }

  failureFor(host: string): string | undefined {
    return this.failures.failureFor(host);
  }

  /** The process's pid, while it runs. */
  get pid(): number | undefined {
    return this.child?.exitCode === null ? this.child.pid : undefined;
  }

  private asNobody(): boolean {
    if (process.getuid?.() !== 0) return false;
    const unreadable = unreadableByNobody([SCRIPT, fileURLToPath(import.meta.resolve('tsx')), fileURLToPath(import.meta.resolve('ipaddr.js'))]);
    if (unreadable === undefined) return true;
    if (!this.warnedAsSelf) this.o.log.warn({ file: unreadable }, 'the egress proxy runs as the service\'s own user: nobody cannot read its code');
    this.warnedAsSelf = true;
    return false;
  }

  private start(): Promise<number> {
    const settings: EgressSettings = { allowlist: [...this.o.allowlist], port: this.port, logLevel: this.o.log.level };
    const child = spawnHelper(SCRIPT, { heapMb: HEAP_MB, asNobody: this.asNobody(), env: { WEBCAST_EGRESS_SETTINGS: JSON.stringify(settings) } });
    this.child = child;
    child.stderr?.on('data', (d: Buffer) => this.o.log.warn({ output: d.toString('utf8').slice(0, 2000) }, 'the egress proxy wrote to stderr'));
    child.on('error', (err) => this.o.log.warn({ err }, 'the egress proxy process failed'));
    let wasReady = false;
    const ready = new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`the egress proxy did not start within ${START_TIMEOUT_MS / 1000} s`));
        child.kill('SIGKILL');
      }, START_TIMEOUT_MS);
      child.on('message', (message: unknown) => {
        const m = parseFromEgress(message);
        if (m?.type === 'ready') {
          wasReady = true;
          clearTimeout(timer);
          resolve(m.port);
        } else if (m?.type === 'failed') {
          clearTimeout(timer);
          reject(new Error(`the egress proxy cannot listen: ${m.message}`));
        } else if (m) this.received(m);
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`the egress proxy stopped while starting (${signal ?? `exit ${code}`})`));
      });
    });
    child.once('exit', (code, signal) => {
      if (this.child === child) this.child = undefined;
      if (this.closed || this.port === 0) return;
      // A start that failed says so itself (restartLater).
      if (wasReady) this.o.log.warn({ code, signal, port: this.port }, 'the egress proxy stopped: pages\' requests fail until it is started again');
      this.restartLater();
    });
    return ready;
  }

  private restartLater(): void {
    const wait = RESTART_MS[Math.min(this.restarts, RESTART_MS.length - 1)] ?? 30_000;
    this.restarts += 1;
    this.restartTimer = setTimeout(() => {
      if (this.closed) return;
      this.start().then(
        (port) => {
          this.restarts = 0;
          this.o.log.info({ port }, 'the egress proxy is back');
        },
        (err: unknown) => this.o.log.warn({ err: (err as Error).message, retryInMs: RESTART_MS[Math.min(this.restarts, RESTART_MS.length - 1)] }, 'the egress proxy could not be started again'),
      );
    }, wait);
  }

  private received(m: FromEgress): void {
    switch (m.type) {
      case 'log':
        this.o.log[m.level](m.fields, m.msg);
        break;
      case 'failure':
        this.failures.remember(m.host, m.reason);
        if (m.refused) this.o.onRefused?.();
        break;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.restartTimer);
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
  }
}
