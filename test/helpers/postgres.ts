import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';

/**
 * A real PostgreSQL of its own for a test: Debian's server, a new cluster in a temporary
 * folder, on a free loopback port, gone with `stop()` (and with the test process: the server
 * exits when its parent dies). Trust authentication on loopback only; fsync off, since a test's
 * data need not survive a power cut.
 */
export interface TestPostgres {
  /** postgres://… of a database of its own. */
  url: string;
  /** Another empty database on the same server, for a test that needs a clean one. */
  newDatabase(): Promise<string>;
  /** A plain client, to look at what the service wrote (in `database`, a URL from newDatabase; the first by default). */
  query<R extends pg.QueryResultRow>(sql: string, values?: unknown[], database?: string): Promise<R[]>;
  stop(): Promise<void>;
}

/** Debian keeps the server's programs out of PATH, under /usr/lib/postgresql/<major>/bin. */
export function postgresBin(program: string): string {
  const root = '/usr/lib/postgresql';
  const majors = existsSync(root) ? readdirSync(root).filter((d) => /^\d+$/.test(d)).sort((a, b) => Number(b) - Number(a)) : [];
  for (const major of majors) {
    const file = path.join(root, major, 'bin', program);
    if (existsSync(file)) return file;
  }
  return program;
}

let held = 0;
async function freePort(): Promise<number> {
  if (held === 0) {
    const h = createServer();
    await new Promise<void>((r) => h.listen(0, '127.0.0.1', r));
    held = (h.address() as { port: number }).port;
    console.log('HANDING OUT HELD PORT', held);
    return held;
  }
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

/** PostgreSQL refuses to run as root: as root, it runs as Debian's `postgres` user. */
function asServerUser(dir: string): string[] {
  if (process.getuid?.() !== 0) return [];
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  chownSync(dir, uid, gid);
  return ['setpriv', `--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--pdeathsig=TERM', '--'];
}

/** Starts the server on `port` and waits until it takes connections; or what it said when it exited. */
async function startServer(prefix: string[], data: string, dir: string, port: number): Promise<{ server: ChildProcess } | { log: string }> {
  const [cmd = '', ...rest] = [
    ...prefix,
    postgresBin('postgres'),
    '-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1',
    '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=200',
  ];
  const server: ChildProcess = spawn(cmd, rest, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  server.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  const admin = `postgres://webcast@127.0.0.1:${port}/postgres`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    // A process that took the port may take a connection and never answer.
    const c = new pg.Client({ connectionString: admin, connectionTimeoutMillis: 2000 });
    try {
      await c.connect();
      await c.end();
      return { server };
    } catch (err) {
      await c.end().catch(() => undefined);
      if (server.exitCode !== null) return { log: `${(err as Error).message}\n${log}` };
      if (Date.now() > deadline) {
        server.kill('SIGKILL');
        throw new Error(`PostgreSQL did not start: ${(err as Error).message}\n${log}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

export async function startPostgres(): Promise<TestPostgres> {
  const dir = mkdtempSync(path.join(tmpdir(), 'webcast-pg-'));
  const data = path.join(dir, 'data');
  const prefix = asServerUser(dir);
  const run = (args: string[]) => {
    const [cmd = '', ...rest] = [...prefix, ...args];
    execFileSync(cmd, rest, { stdio: 'pipe', cwd: dir });
  };
  run([postgresBin('initdb'), '-D', data, '-U', 'webcast', '-A', 'trust', '-E', 'UTF8', '--no-locale', '--no-sync']);
  // A free port is picked before PostgreSQL binds it, and another process may take it in between
  // (another test file's connections run beside): then it is started again on another.
  let port = 0;
  let server: ChildProcess | undefined;
  for (let attempt = 1; !server; attempt += 1) {
    port = await freePort();
    const started = await startServer(prefix, data, dir, port);
    if ('server' in started) server = started.server;
    else if (!/could not bind|could not create any TCP\/IP sockets|Address already in use/.test(started.log) || attempt === 3) throw new Error(`PostgreSQL did not start: ${started.log}`);
  }
  const admin = `postgres://webcast@127.0.0.1:${port}/postgres`;
  let databases = 0;
  const newDatabase = async (): Promise<string> => {
    const name = `webcast_${++databases}`;
    const c = new pg.Client(admin);
    await c.connect();
    await c.query(`CREATE DATABASE ${name}`);
    await c.end();
    return `postgres://webcast@127.0.0.1:${port}/${name}`;
  };
  const url = await newDatabase();
  return {
    url,
    newDatabase,
    async query<R extends pg.QueryResultRow>(sql: string, values?: unknown[], database = url) {
      const c = new pg.Client(database);
      await c.connect();
      try {
        return (await c.query<R>(sql, values)).rows;
      } finally {
        await c.end();
      }
    },
    async stop() {
      if (server.exitCode === null) {
        // SIGINT: the fast shutdown, which ends the sessions still open.
        server.kill('SIGINT');
        await new Promise((r) => server.once('exit', r));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
