import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readdirSync, renameSync, statSync, writeFileSync, type WriteStream } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import type { Logger } from 'pino';

/**
 * Runs Debian's `janus` as a child process with a configuration of our own: loopback only,
 * the VideoRoom plugin with string room ids, and the WebSocket and HTTP transports. Restarts
 * it when it dies, on the same ports; the room backend reconnects and publishers are re-published.
 */
export interface EmbeddedJanusOptions {
  dataDir: string;
  log: Logger;
  binary?: string;
  /** 0 = a free port. */
  wsPort?: number;
  httpPort?: number;
  /** Picks a free port, for those left 0 (default: one the system hands out; a test may hand out one in use). */
  pickPort?: () => Promise<number>;
  /** UDP ports for media, as Janus writes them: "20000-40000". */
  rtpPortRange?: string;
  /** Janus's api_secret: every request must carry it (default: a new random one at each start). */
  apiSecret?: string;
  libDir?: string;
  /** Where media is offered besides loopback, for viewers on other machines (interfaces or addresses). */
  iceInterfaces?: readonly string[];
  /** The address viewers reach this machine at, when it is behind NAT (a cloud VM's public IP). */
  publicIp?: string | undefined;
}

export interface JanusEndpoints {
  wsUrl: string;
  httpUrl: string;
}

/** Where Debian (any architecture) and Janus's own `make install` put its modules. */
const LIB_DIR_CANDIDATES = ['/usr/lib/x86_64-linux-gnu/janus', '/usr/lib/aarch64-linux-gnu/janus', '/usr/lib/janus', '/opt/janus/lib/janus'];
const defaultLibDir = (): string => LIB_DIR_CANDIDATES.find((d) => existsSync(path.join(d, 'plugins'))) ?? LIB_DIR_CANDIDATES[0] ?? '';
const KEEP = { plugins: ['libjanus_videoroom.so'], transports: ['libjanus_websockets.so', 'libjanus_http.so'] };
const READY_TIMEOUT_MS = 15_000;
/** janus.log is moved to janus.log.1 at a start once it is this big: two files at most. */
const LOG_ROTATE_BYTES = 10 * 2 ** 20;

/** How much of what the running Janus said last is kept, for an error that must say why. */
const LAST_WORDS_BYTES = 2048;

/** What Janus says when it cannot listen on a port it was given (its HTTP and WebSocket transports). */
const PORT_TAKEN = /Couldn't start webserver on port|Error creating vhost for/;
/** Starts on freshly picked ports, when a port picked was taken before Janus bound it. */
const START_ATTEMPTS = 3;

/** Janus could not listen on a port it was given. */
class PortTaken extends Error {}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Every module of a kind except the ones we keep, as Janus's `disable` lists want them. */
function disabled(libDir: string, kind: 'plugins' | 'transports' | 'events' | 'loggers', keep: readonly string[]): string {
  let files: string[] = [];
  try {
    files = readdirSync(path.join(libDir, kind)).filter((f) => f.endsWith('.so'));
  } catch {
    // A Janus built elsewhere may lack a folder; nothing of that kind then needs disabling.
  }
  return files.filter((f) => !keep.includes(f)).join(',');
}

export interface JanusConfigInput {
  libDir: string;
  wsPort: number;
  httpPort: number;
  rtpPortRange: string;
  iceInterfaces?: readonly string[] | undefined;
  publicIp?: string | undefined;
  apiSecret: string;
}

export function janusConfigFiles(o: JanusConfigInput): Record<string, string> {
  // Loopback always: our own Chromium publishes over it. The rest only when asked for.
  const enforce = ['lo', ...(o.iceInterfaces ?? []).filter((i) => i !== 'lo')].join(',');
  // keep_private_host: the loopback candidate stays beside the public one, for our publisher.
  const nat = o.publicIp ? `\n  nat_1_1_mapping = "${o.publicIp}"\n  keep_private_host = true` : '';
  return {
    'janus.jcfg': `general: {
  configs_folder = "."
  plugins_folder = "${o.libDir}/plugins"
  transports_folder = "${o.libDir}/transports"
  events_folder = "${o.libDir}/events"
  loggers_folder = "${o.libDir}/loggers"
  debug_level = 3
  debug_timestamps = true
  session_timeout = 60
  api_secret = "${o.apiSecret}"
}
media: {
  rtp_port_range = "${o.rtpPortRange}"
}
nat: {
  ice_enforce_list = "${enforce}"${nat}
  nice_debug = false
}
plugins: {
  disable = "${disabled(o.libDir, 'plugins', KEEP.plugins)}"
}
transports: {
  disable = "${disabled(o.libDir, 'transports', KEEP.transports)}"
}
events: {
  broadcast = false
  disable = "${disabled(o.libDir, 'events', [])}"
}
loggers: {
  disable = "${disabled(o.libDir, 'loggers', [])}"
}
`,
    'janus.plugin.videoroom.jcfg': `general: {
  string_ids = true
}
`,
    'janus.transport.websockets.jcfg': `general: {
  json = "indented"
  ws = true
  ws_port = ${o.wsPort}
  ws_ip = "127.0.0.1"
  wss = false
}
admin: {
  admin_ws = false
  admin_wss = false
}
`,
    'janus.transport.http.jcfg': `general: {
  json = "indented"
  base_path = "/janus"
  http = true
  port = ${o.httpPort}
  ip = "127.0.0.1"
  https = false
}
admin: {
  admin_http = false
  admin_https = false
}
`,
  };
}

export class EmbeddedJanus {
  private child: ChildProcess | undefined;
  private stopping = false;
  private endpoints: JanusEndpoints | undefined;
  private logFile: WriteStream | undefined;
  private restarts = 0;
  /** The end of what the running Janus wrote (also in janus.log, which a stream writes a moment later). */
  private said = '';
  /** Answered once: from then on a death is a crash to restart from; before, the start's own error. */
  private started = false;
  readonly configDir: string;

  /** What every request to this Janus must carry. */
  readonly apiSecret: string;

  constructor(private readonly o: EmbeddedJanusOptions) {
    this.configDir = path.join(o.dataDir, 'janus');
    // Even on loopback: any local process (not a page: those cannot reach loopback) could
    // otherwise join our rooms or tear them down.
    this.apiSecret = o.apiSecret ?? randomBytes(24).toString('base64url');
  }

  get urls(): JanusEndpoints {
    if (!this.endpoints) throw new Error('Janus has not been started');
    return this.endpoints;
  }

  async start(): Promise<JanusEndpoints> {
    mkdirSync(this.configDir, { recursive: true });
    if (!this.logFile) {
      const file = this.logPath;
      if (existsSync(file) && statSync(file).size > LOG_ROTATE_BYTES) renameSync(file, `${file}.1`);
      this.logFile = createWriteStream(file, { flags: 'a' });
    }
    for (let attempt = 1; ; attempt += 1) {
      const pick = this.o.pickPort ?? freePort;
      const wsPort = this.o.wsPort || (await pick());
      const httpPort = this.o.httpPort || (await pick());
      const files = janusConfigFiles({ libDir: this.o.libDir ?? defaultLibDir(), wsPort, httpPort, rtpPortRange: this.o.rtpPortRange ?? '20000-40000',
        iceInterfaces: this.o.iceInterfaces,
        publicIp: this.o.publicIp,
        apiSecret: this.apiSecret,
      });
      for (const [name, text] of Object.entries(files)) writeFileSync(path.join(this.configDir, name), text);
      this.endpoints = { wsUrl: `ws://127.0.0.1:${wsPort}/`, httpUrl: `http://127.0.0.1:${httpPort}/janus` };
      try {
        await this.spawnAndWait();
        break;
      } catch (err) {
        // A free port is picked before Janus binds it, and another process may take it in
        // between (any outgoing connection's local port): pick again, where the ports are ours to pick.
        if (err instanceof PortTaken && attempt < START_ATTEMPTS && !this.o.wsPort && !this.o.httpPort) {
          this.o.log.warn({ wsPort, httpPort, attempt }, 'a port picked for janus was taken before janus could listen on it: starting it on others');
          await this.killChild();
          continue;
        }
        await this.stop();
        throw err;
      }
    }
    this.started = true;
    return this.urls;
  }

  /** Ends a Janus that did not start (onExit leaves a death before the start alone). */
  private async killChild(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const closed = new Promise((r) => child.once('close', r));
    child.kill('SIGKILL');
    await closed;
  }

  private async spawnAndWait(): Promise<void> {
    const binary = this.o.binary ?? 'janus';
    // setpriv --pdeathsig: Janus ends with the service, even one killed with SIGKILL. A process
    // group of its own: Ctrl-C in a terminal reaches the service, which stops Janus itself,
    // rather than Janus, whose death would be taken for a crash.
    const child = spawn('/usr/bin/setpriv', ['--pdeathsig', 'KILL', '--', binary, '-F', this.configDir, '-C', path.join(this.configDir, 'janus.jcfg'), '--disable-colors'], {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    if (this.logFile) {
      child.stdout?.pipe(this.logFile, { end: false });
      child.stderr?.pipe(this.logFile, { end: false });
    }
    this.said = '';
    const keep = (d: Buffer): void => {
      this.said = (this.said + d.toString('utf8')).slice(-LAST_WORDS_BYTES);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const spawnError = new Promise<never>((_, reject) => child.once('error', (err) => reject(new Error(`cannot run ${binary}: ${err.message}`))));
    spawnError.catch(() => undefined);
    child.once('exit', (code, signal) => this.onExit(child, code, signal));
    await Promise.race([this.waitReady(child), spawnError]);
    // `pid` is already the service's own, in every line.
    this.o.log.info({ janusPid: child.pid, ws: this.urls.wsUrl }, 'janus ready');
  }

  private async waitReady(child: ChildProcess): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`janus exited with ${child.exitCode} while starting${this.lastWords()}`);
      if (PORT_TAKEN.test(this.said)) {
        child.kill('SIGKILL');
        throw new PortTaken(`janus could not listen on its port${this.lastWords()}`);
      }
      try {
        const res = await fetch(`${this.urls.httpUrl}/info`, { signal: AbortSignal.timeout(1000) });
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    child.kill('SIGKILL');
    throw new Error(`janus did not answer within ${READY_TIMEOUT_MS} ms${this.lastWords()}`);
  }

  private get logPath(): string {
    return path.join(this.o.dataDir, 'janus.log');
  }

  /** What Janus said last, for an error about it; its log can be gone with a temporary data folder. */
  private lastWords(): string {
    const lines = this.said.split('\n').filter((l) => l.trim() !== '');
    // The first line may be cut in the middle.
    const said = (this.said.length >= LAST_WORDS_BYTES ? lines.slice(1) : lines).slice(-12).join('\n');
    return said ? `; the end of ${this.logPath}:\n${said}` : `; see ${this.logPath}`;
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (child !== this.child) return;
    if (this.stopping || !this.started) return;
    this.restarts += 1;
    const delay = Math.min(10_000, 500 * 2 ** Math.min(this.restarts - 1, 5));
    this.o.log.error({ code, signal, restartInMs: delay }, 'janus died; restarting it');
    setTimeout(() => {
      if (this.stopping) return;
      this.spawnAndWait().then(
        () => {
          this.restarts = 0;
        },
        // A restart that dies or times out exits again, and its own exit schedules the next try.
        (err: unknown) => this.o.log.error({ err }, 'janus failed to restart'),
      );
    }, delay).unref();
  }

  /** For tests and supervision: the running process. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      // 'close': its output is in the log too, to its last line.
      const exited = new Promise((r) => child.once('close', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
    const file = this.logFile;
    if (file) await new Promise<void>((r) => file.end(r));
  }
}
