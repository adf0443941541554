import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * The classic pipeline other open-source page recorders use, as the baseline: Chromium in
 * Xvfb, its sound into a PulseAudio null sink, ffmpeg grabbing both (x11grab + pulse) and
 * encoding libx264 veryfast + AAC.
 */
export interface ClassicRun {
  /** The processes whose CPU counts: Xvfb, PulseAudio, Chromium (with children), ffmpeg. */
  roots(): number[];
  /** Frames ffmpeg has encoded so far. */
  frames(): number;
  stop(): Promise<void>;
}

const DISPLAY = ':87';

function start(cmd: string, args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.on('error', (err) => process.stderr.write(`${cmd}: ${err.message}\n`));
  return child;
}

async function waitUntil(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`baseline: ${what} did not come up`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function startClassic(o: { url: string; width: number; height: number; frameRate: number; outFile?: string }): Promise<ClassicRun> {
  const dir = mkdtempSync(path.join(tmpdir(), 'classic-'));
  const env = { HOME: dir, XDG_RUNTIME_DIR: dir, DISPLAY, PULSE_SERVER: `unix:${dir}/pulse.sock` };
  const xvfb = start('Xvfb', [DISPLAY, '-screen', '0', `${o.width}x${o.height}x24`, '-nolisten', 'tcp'], env);
  const pulse = start('pulseaudio', ['--daemonize=no', '--exit-idle-time=-1', '-n', '--load=module-null-sink sink_name=grab', `--load=module-native-protocol-unix auth-anonymous=1 socket=${dir}/pulse.sock`], env);
  await new Promise((r) => setTimeout(r, 1500));
  const chromium = start('chromium', [
    '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync',
    `--user-data-dir=${dir}/profile`, '--kiosk', '--window-position=0,0', `--window-size=${o.width},${o.height}`,
    '--autoplay-policy=no-user-gesture-required', '--hide-scrollbars', '--test-type', o.url,
  ], env);
  await new Promise((r) => setTimeout(r, 3000));
  let frames = 0;
  const ffmpeg = start('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-nostats', '-progress', 'pipe:1', '-y',
    '-f', 'x11grab', '-video_size', `${o.width}x${o.height}`, '-framerate', String(o.frameRate), '-i', DISPLAY,
    '-f', 'pulse', '-i', 'grab.monitor',
    '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p', '-g', String(o.frameRate * 2),
    '-c:a', 'aac', '-b:a', '128k',
    ...(o.outFile ? ['-f', 'mpegts', o.outFile] : ['-f', 'mpegts', '/dev/null']),
  ], env);
  ffmpeg.stdout?.on('data', (d: Buffer) => {
    const m = /frame=(\d+)/g;
    for (const x of d.toString().matchAll(m)) frames = Number(x[1]);
  });
  let errors = '';
  ffmpeg.stderr?.on('data', (d: Buffer) => (errors += d.toString()));
  await waitUntil(() => frames > 0, 10_000, 'ffmpeg').catch((err: Error) => {
    for (const p of [ffmpeg, chromium, pulse, xvfb]) p.kill('SIGKILL');
    throw new Error(`${err.message}: ${errors.trim()}`);
  });
  const procs = [xvfb, pulse, chromium, ffmpeg];
  return {
    roots: () => procs.map((p) => p.pid).filter((p): p is number => p !== undefined),
    frames: () => frames,
    async stop() {
      ffmpeg.kill('SIGINT');
      await new Promise((r) => setTimeout(r, 1000));
      for (const p of [chromium, pulse, xvfb, ffmpeg]) p.kill('SIGKILL');
      await new Promise((r) => setTimeout(r, 500));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
