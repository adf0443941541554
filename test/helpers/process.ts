import { spawn, type ChildProcess, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { testBrowserUids } from './uid-range.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface ServiceProcess {
  url: string;
  host: string;
  child: ChildProcess;
  /** stdout and stderr so far. */
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** Ctrl-C in a terminal: SIGINT to the service's whole process group. */
  interrupt(): Promise<number | null>;
}

/**
 * A prefix that runs the service in a mount namespace of its own, after `script` (a shell
 * command) changed that namespace's mounts: to try it on a machine set up otherwise than this one.
 */
export const inMountNamespace = (script: string): string[] => ['/usr/bin/unshare', '--mount', '--propagation', 'private', '--', '/bin/sh', '-c', `${script} && exec "$@"`, 'webcast-mounts'];

/**
 * /sys as a machine that runs systemd mounts it (this one mounts it without nosuid, nodev and
 * noexec): in a user namespace those flags are locked, and a read-only copy that dropped one
 * failed, so no browser started under the systemd unit (2026-11-28, found under systemd).
 */
export const SYS_AS_SYSTEMD_MOUNTS_IT = 'mount -o remount,bind,nosuid,nodev,noexec /sys';

/** The service as `npm start` runs it, in a process group of its own as a shell gives a command; `prefix` runs it through another command first (setpriv, to start it as another user). */
function startProcess(env: Record<string, string>, prefix: readonly string[] = []): ChildProcessByStdio<null, Readable, Readable> {
  const [command = process.execPath, ...args] = [...prefix, process.execPath, '--import', 'tsx', 'src/main.ts'];
  return spawn(command, args, {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', WEBCAST_PORT: '0', WEBCAST_BROWSER_UIDS: testBrowserUids(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
}

/**
 * Runs the service as `npm start` does, as its own process, and waits until it listens. A start
 * waits for its first browser; beside another test file's tasks that took over 20 and 30 s
 * (2026-11-27, twice); how long a start takes on a busy machine is resilience.test.ts's to check.
 */
export async function spawnService(env: Record<string, string>, timeoutMs = 60_000, prefix: readonly string[] = []): Promise<ServiceProcess> {
  const child = startProcess(env, prefix);
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = once(child, 'exit');
  const deadline = Date.now() + timeoutMs;
  let url: string | undefined;
  while (!url) {
    url = /webcast OpenAPI listening on (http:\/\/\S+)/.exec(out)?.[1];
    if (url) break;
    if (child.exitCode !== null) throw new Error(`the service exited with ${child.exitCode}:\n${out}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the service did not listen within ${timeoutMs} ms:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    host: new URL(url).host,
    child,
    output: () => out,
    async interrupt() {
      if (child.exitCode === null && child.pid) process.kill(-child.pid, 'SIGINT');
      const [code] = (await exited) as [number | null];
      return code;
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null) child.kill(signal);
      const [code] = (await exited) as [number | null];
      return code;
    },
  };
}

/** Runs the service as `npm start` does and waits for it to exit, as a start that must fail. */
export async function runToExit(env: Record<string, string>, timeoutMs = 30_000): Promise<{ code: number | null; output: string }> {
  const child = startProcess(env);
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  return { code, output };
}
