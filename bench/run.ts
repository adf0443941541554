/**
 * `npm run bench`: the engine against the classic pipeline (Chromium in Xvfb + PulseAudio +
 * ffmpeg x11grab/libx264), on this machine, in one run. Prints a table and the ratios.
 * BENCH_SECONDS sets each measuring window (default 15), BENCH_SYNC_SECONDS the sync
 * recordings (default 60), BENCH_MAX_CAPACITY the most tasks tried at once (default 12),
 * BENCH_PAIRS how many times each one-task row alternates ours and classic (default 3),
 * BENCH_ONLY a comma-separated choice of sections (latency, one-task, webgl, capacity, h264, sync, admission,
 * cluster-api, failover); BENCH_FAILOVERS how many workers the failover section kills (default 5).
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startClassic } from './classic.js';
import { chromiumRole, cmdline, measureCores, pidsWhere, tree } from '../test/helpers/procfs.js';
import { procStat } from '../src/capture/proc-stat.js';
import { SLIRP4NETNS } from '../src/capture/browser-network.js';
import { uncapturedCost } from './uncaptured.js';
import { encoderSetupMs, firstTouchMicros } from './machine.js';
import { taskCpuCeiling } from '../src/scheduler/admission.js';
import { apiThroughput, failover } from './cluster.js';
import { measureSync, type SyncResult } from './sync.js';
import { getTask, sdkClient, startTestNode, waitFor, type TestNode } from '../test/helpers/node.js';
import { startPageServer, type PageServer } from '../test/helpers/pages.js';
import { Subscriber } from '../test/helpers/subscriber.js';
import { median } from './median.js';

const WINDOW_MS = Number(process.env.BENCH_SECONDS ?? 15) * 1000;
const SYNC_MS = Number(process.env.BENCH_SYNC_SECONDS ?? 60) * 1000;
const MAX_CAPACITY = Number(process.env.BENCH_MAX_CAPACITY ?? 12);
const PAIRS = Number(process.env.BENCH_PAIRS ?? 3);
const SECTIONS = (process.env.BENCH_ONLY ?? 'latency,one-task,webgl,capacity,h264,sync,admission,cluster-api,failover').split(',').map((s) => s.trim());
const section = (name: string): boolean => SECTIONS.includes(name);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (line: string) => process.stdout.write(`${line}\n`);

let t: TestNode;
let pages: PageServer;
let n = 0;

function chromiumPids(): number[] {
  const folder = t.node.worker?.browsers.folder ?? '\0';
  return tree(pidsWhere((c) => c.includes(`user-data-dir=${folder}/`) && !c.includes('--type=')));
}
const janusPids = (): number[] => (t.node.worker?.janus?.pid ? [t.node.worker.janus.pid] : []);

/** Each browser's network (browser-network.ts): its slirp4netns and the process that holds its namespaces, children of this process. */
function browserNetworkPids(): number[] {
  return pidsWhere((c) => c.startsWith(`${SLIRP4NETNS} `) || c === 'sleep infinity ').filter((pid) => procStat(pid)?.ppid === process.pid);
}

/** The egress proxy's process (egress-proxy-process.ts), a child of this process. */
const egressPids = (): number[] => pidsWhere((c) => c.includes('egress-process.ts')).filter((pid) => procStat(pid)?.ppid === process.pid);

/** Our side's processes: the cloud Chromium and its children, their networks, Janus, the egress proxy, and this Node process itself. */
function ourPids(): number[] {
  return [...chromiumPids(), ...browserNetworkPids(), ...janusPids(), ...egressPids(), process.pid];
}

async function startNode(codec: string, maxTasks: number, env: Record<string, string> = {}): Promise<void> {
  // By count: the sections measure what a node does with the tasks they give it (the admission section measures admission).
  t = await startTestNode({ env: { WEBCAST_WORKER: 'true', WEBCAST_URL_ALLOWLIST: '127.0.0.1', WEBCAST_MAX_TASKS: String(maxTasks), WEBCAST_ADMISSION: 'count', WEBCAST_LOG_LEVEL: 'warn', WEBCAST_VIDEO_CODEC: codec, ...env } });
}

async function startTask(over: Record<string, unknown>) {
  n += 1;
  const key = { AppId: 'bench', RoomId: `r${n}`, TaskId: `t${n}` };
  const res = await sdkClient(t.host).start({ ...key, UserId: `u${n}`, SourceURL: `${pages.url}/tone`, ...over });
  if (res.Result !== 'ok') throw new Error(JSON.stringify(res.ResponseMetadata.Error));
  await waitFor('Status 2', async () => (await getTask(t.host, key))?.Status === 2, 60_000);
  return key;
}

const subscribe = (key: { RoomId: string }, user: string) => {
  if (!t.node.worker) throw new Error('no worker');
  return Subscriber.join(t.node.worker.rooms, { appId: 'bench', roomId: key.RoomId }, user);
};

/**
 * Start → first frame decoded by a viewer already in the room: its browser is up before the
 * Start, it looks for the publisher every 10 ms and subscribes the moment it appears.
 */
async function firstFrameLatency(runs: number): Promise<number[]> {
  const out: number[] = [];
  const rooms = t.node.worker?.rooms;
  if (!rooms) throw new Error('no worker');
  for (let i = 0; i < runs; i += 1) {
    n += 1;
    const key = { AppId: 'bench', RoomId: `r${n}`, TaskId: `t${n}` };
    const viewer = await Subscriber.ready();
    // Already in the room: its browser's launch and the previous task's teardown are over.
    await sleep(2000);
    const t0 = performance.now();
    await sdkClient(t.host).start({ ...key, UserId: `u${n}`, SourceURL: `${pages.url}/tone` });
    await waitFor('the publisher', async () => (await rooms.publishers({ appId: 'bench', roomId: key.RoomId })).length === 1, 30_000, 10);
    const sub = await Subscriber.join(rooms, { appId: 'bench', roomId: key.RoomId }, `u${n}`, undefined, viewer);
    await sub.waitForVideo((v) => v.framesDecoded > 0, 30_000);
    out.push(performance.now() - t0);
    await sub.leave();
    await sdkClient(t.host).stop(key);
  }
  return out;
}

/** The mean of each start phase so far, from the node's own histogram (webcast_start_phase_seconds). */
async function startPhases(): Promise<string> {
  const text = await t.node.server.inject({ method: 'GET', url: '/metrics' }).then((r) => r.body);
  const sums = new Map<string, number>();
  const counts = new Map<string, number>();
  for (const m of text.matchAll(/^webcast_start_phase_seconds_(sum|count)\{[^}]*phase="([^"]+)"[^}]*\} ([\d.e+-]+)$/gm)) {
    (m[1] === 'sum' ? sums : counts).set(m[2] ?? '', Number(m[3]));
  }
  return [...sums].map(([phase, sum]) => `${phase} ${fmt((sum / (counts.get(phase) || 1)) * 1000, 0)}`).join(', ');
}

interface Row {
  config: string;
  sentSize: string;
  oursCores: number;
  parts: { chromium: number; gpu: number; renderers: number; janus: number; node: number };
  oursFps: number;
  oursMB: number;
  baseCores: number;
  baseFps: number;
  baseMB: number;
  /** ours/classic of every pair; the row's other figures are those of the median pair. */
  ratios: number[];
}

async function measureOurs(width: number, height: number, fps: number, page = 'tone') {
  const key = await startTask({ SourceURL: `${pages.url}/${page}`, VideoSolutions: [{ Width: width, Height: height, FrameRate: fps }] });
  await sleep(3000);
  const [ours, chromium, gpu, renderers, janus, node] = await Promise.all([
    measureCores(ourPids, WINDOW_MS),
    measureCores(chromiumPids, WINDOW_MS),
    measureCores(() => chromiumPids().filter((p) => chromiumRole(p) === 'gpu-process'), WINDOW_MS),
    measureCores(() => chromiumPids().filter((p) => chromiumRole(p) === 'renderer'), WINDOW_MS),
    measureCores(janusPids, WINDOW_MS),
    measureCores(() => [process.pid], WINDOW_MS),
  ]);
  // What the encoder actually sends: WebRTC may lower the size when the machine is busy.
  const sent = (await t.node.worker?.engine.session(key)?.stats())?.video[0];
  const sentSize = sent ? `${sent.width}x${sent.height}` : '?';
  const sub = await subscribe(key, `u${n}`);
  await sub.waitForVideo((v) => v.framesDecoded > 10);
  const oursFps = await sub.measuredFps(WINDOW_MS);
  await sub.leave();
  await sdkClient(t.host).stop(key);
  return { ours, oursFps, sentSize, parts: { chromium: chromium.cores, gpu: gpu.cores, renderers: renderers.cores, janus: janus.cores, node: node.cores } };
}

async function comparePair(width: number, height: number, fps: number, page: string): Promise<Omit<Row, 'ratios'>> {
  const { ours, oursFps, parts, sentSize } = await measureOurs(width, height, fps, page);
  const base = await startClassic({ url: `${pages.url}/${page}`, width, height, frameRate: fps });
  await sleep(3000);
  const f0 = base.frames();
  const t0 = performance.now();
  const baseline = await measureCores(() => tree(base.roots()), WINDOW_MS);
  const baseFps = ((base.frames() - f0) * 1000) / (performance.now() - t0);
  await base.stop();
  return { config: `${width}x${height}@${fps}${page === 'tone' ? '' : ` ${page}`}`, sentSize, oursCores: ours.cores, parts, oursFps, oursMB: ours.pssBytes / 2 ** 20, baseCores: baseline.cores, baseFps, baseMB: baseline.pssBytes / 2 ** 20 };
}

/** Ours and classic one after the other, PAIRS times: a single window is too noisy to compare. */
async function compare(width: number, height: number, fps: number, page = 'tone'): Promise<Row> {
  const pairs: Omit<Row, 'ratios'>[] = [];
  for (let i = 0; i < PAIRS; i += 1) pairs.push(await comparePair(width, height, fps, page));
  const ratios = pairs.map((p) => p.oursCores / p.baseCores);
  const mid = pairs[ratios.indexOf([...ratios].sort((a, b) => a - b)[(ratios.length - 1) >> 1] ?? NaN)];
  if (!mid) throw new Error('BENCH_PAIRS must be at least 1');
  return { ...mid, ratios };
}

async function capacity(): Promise<{ held: number; steps: { tasks: number; minFps: number; cores: number; pssMB: number }[] }> {
  const keys: { AppId: string; RoomId: string; TaskId: string }[] = [];
  const steps: { tasks: number; minFps: number; cores: number; pssMB: number }[] = [];
  let held = 0;
  for (let k = 1; k <= MAX_CAPACITY; k += 1) {
    keys.push(await startTask({ VideoSolutions: [{ Width: 1280, Height: 720, FrameRate: 15 }] }));
    await sleep(3000);
    const sent = async () => Promise.all(keys.map(async (key) => (await t.node.worker?.engine.session(key)?.stats())?.video[0]?.framesSent ?? 0));
    const a = await sent();
    const t0 = performance.now();
    const { cores, pssBytes } = await measureCores(ourPids, WINDOW_MS);
    const b = await sent();
    const secs = (performance.now() - t0) / 1000;
    const minFps = Math.min(...b.map((x, i) => (x - (a[i] ?? 0)) / secs));
    const pssMB = pssBytes / 2 ** 20;
    const added = steps.length > 0 ? `, +${(pssMB - (steps[steps.length - 1]?.pssMB ?? 0)).toFixed(0)} MB for this task` : '';
    steps.push({ tasks: k, minFps, cores, pssMB });
    log(`  ${k} task(s) of 1280x720@15: slowest sends ${minFps.toFixed(1)} fps, ${cores.toFixed(2)} cores, PSS ${pssMB.toFixed(0)} MB${added}`);
    if (minFps < 0.9 * 15) break;
    held = k;
  }
  for (const key of keys) await sdkClient(t.host).stop(key);
  return { held, steps };
}

/**
 * What admission decides, with the defaults, under a mix of light, busy and 1080p30 pages: which
 * went on air, which wait, why, and what those on air send.
 */
async function admissionUnderMixedLoad(): Promise<string[]> {
  await t.close();
  t = await startTestNode({ env: { WEBCAST_WORKER: 'true', WEBCAST_URL_ALLOWLIST: '127.0.0.1', WEBCAST_LOG_LEVEL: 'info', WEBCAST_ADMISSION: 'cost' } });
  const mix = [
    ['tone', 1280, 720, 15], ['busy', 1280, 720, 30], ['tone', 1920, 1080, 30], ['tone', 1280, 720, 15],
    ['tone', 1280, 720, 15], ['busy', 1280, 720, 30], ['tone', 1280, 720, 15], ['tone', 1280, 720, 15],
  ] as const;
  const started: { key: { AppId: string; RoomId: string; TaskId: string }; label: string; fps: number }[] = [];
  for (const [page, w, h, f] of mix) {
    n += 1;
    const key = { AppId: 'bench', RoomId: `r${n}`, TaskId: `t${n}` };
    const res = await sdkClient(t.host).start({ ...key, UserId: `u${n}`, SourceURL: `${pages.url}/${page}`, VideoSolutions: [{ Width: w, Height: h, FrameRate: f }] });
    if (res.Result !== 'ok') throw new Error(JSON.stringify(res.ResponseMetadata.Error));
    started.push({ key, label: `${key.TaskId} ${page} ${w}x${h}@${f}`, fps: f });
    await sleep(2000);
  }
  await sleep(40_000);
  const engine = t.node.worker?.engine;
  const frames = async (): Promise<number[]> => Promise.all(started.map(async (s) => (await engine?.session(s.key)?.stats())?.video[0]?.framesSent ?? 0));
  const a = await frames();
  const t0 = performance.now();
  const { cores } = await measureCores(ourPids, WINDOW_MS);
  const b = await frames();
  const secs = (performance.now() - t0) / 1000;
  const out = started.map((s, i) => {
    const onAir = engine?.snapshot().onAir.includes(`${s.key.AppId}/${s.key.RoomId}/${s.key.TaskId}`);
    return `${s.label.padEnd(28)} ${onAir ? `on air, ${fmt(((b[i] ?? 0) - (a[i] ?? 0)) / secs, 1)} of ${s.fps} fps` : 'waiting'}`;
  });
  out.push(`node: ${fmt(cores)} cores for ours over ${WINDOW_MS / 1000} s`);
  for (const line of t.logs.filter((l) => /the node is full|moving its newest task off/.test(l))) {
    const entry = JSON.parse(line) as { task?: string; why?: string; busyCores?: string; msg: string };
    out.push(`decision: ${entry.msg} (${entry.task ?? ''}${entry.why ? `: ${entry.why}` : ''}${entry.busyCores ? `, ${entry.busyCores} cores busy` : ''})`);
  }
  for (const s of started) await sdkClient(t.host).stop(s.key);
  return out;
}

async function syncOurs(): Promise<SyncResult> {
  const key = await startTask({ SourceURL: `${pages.url}/sync`, VideoSolutions: [{ Width: 1280, Height: 720, FrameRate: 30 }] });
  const sub = await subscribe(key, `u${n}`);
  await sub.waitForVideo((v) => v.framesDecoded > 10);
  await sleep(2000);
  const file = path.join(tmpdir(), `bench-sync-ours-${process.pid}.webm`);
  writeFileSync(file, await sub.record(SYNC_MS));
  await sub.leave();
  await sdkClient(t.host).stop(key);
  return measureSync(file);
}

async function syncBaseline(): Promise<SyncResult> {
  const file = path.join(tmpdir(), `bench-sync-classic-${process.pid}.ts`);
  const base = await startClassic({ url: `${pages.url}/sync`, width: 1280, height: 720, frameRate: 30, outFile: file });
  await sleep(SYNC_MS + 2000);
  await base.stop();
  return measureSync(file);
}

const fmt = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '-');
const syncLine = (name: string, s: SyncResult) =>
  `${name.padEnd(9)} audio ${s.medianMs >= 0 ? 'late' : 'early'} by ${fmt(Math.abs(s.medianMs), 0)} ms (median of ${s.pairs}), range ${fmt(s.minMs, 0)}..${fmt(s.maxMs, 0)} ms; after the first 10 s ${fmt(s.settledMinMs, 0)}..${fmt(s.settledMaxMs, 0)} ms, trend ${fmt(s.driftMsPerMin, 1)} ms/min`;

async function main(): Promise<void> {
  pages = await startPageServer();
  await startNode('vp8', MAX_CAPACITY + 2);
  log(`webcast bench: ${cmdline(process.pid).trim()} — windows of ${WINDOW_MS / 1000} s, sync over ${SYNC_MS / 1000} s`);
  try {
    if (section('latency')) {
      log('\nStart → first frame at a viewer already in the room (1280x720@15, light page):');
      const lat = await firstFrameLatency(Number(process.env.BENCH_LATENCY_RUNS ?? 10));
      const sorted = [...lat].sort((a, b) => a - b);
      const p95 = sorted[Math.min(sorted.length - 1, Math.ceil(0.95 * sorted.length) - 1)] ?? NaN;
      log(`  median ${fmt(median(lat), 0)} ms, 95th percentile ${fmt(p95, 0)} ms  (runs: ${lat.map((x) => x.toFixed(0)).join(', ')})`);
      log(`  where a start goes, mean ms per phase on the node: ${await startPhases()}`);
      // The machine's part of it, to read the figures of different days against each other.
      log(`  this machine: memory touched for the first time costs ${fmt(firstTouchMicros(), 1)} µs per 4 KiB page (well under 1 µs on common hardware)`);
      const [big, small] = [await encoderSetupMs(t.config.chromiumPath, 1280, 720), await encoderSetupMs(t.config.chromiumPath, 320, 180)];
      log(`  a bare Chromium, answer applied → first frame encoded over loopback: 1280x720 ${fmt(big, 0)} ms, 320x180 ${fmt(small, 0)} ms (VP8's set-up, part of firstFrame above)`);
    }

    const rows: Row[] = [];
    if (section('one-task')) {
      log('\nOne task, a light page (a small moving marker) unless marked busy (the whole picture moves); ours = cloud Chromium + Janus + this Node process, classic = Xvfb + PulseAudio + Chromium + ffmpeg:');
      log(`  each row: ${PAIRS} pair(s) of ours then classic; the figures are the pair with the median ratio, then the range of the ratios`);
      log('  size@fps          ours cores  fps    PSS MB | classic cores  fps    PSS MB | CPU ratio ours/classic');
      for (const [w, h, f, page] of [[1280, 720, 15, 'tone'], [1280, 720, 30, 'tone'], [1920, 1080, 30, 'tone'], [1280, 720, 30, 'busy']] as const) {
        const r = await compare(w, h, f, page);
        rows.push(r);
        log(`  ${r.config.padEnd(16)}  ${fmt(r.oursCores).padStart(10)}  ${fmt(r.oursFps, 1).padStart(5)}  ${fmt(r.oursMB, 0).padStart(6)} | ${fmt(r.baseCores).padStart(13)}  ${fmt(r.baseFps, 1).padStart(5)}  ${fmt(r.baseMB, 0).padStart(6)} | ${fmt(median(r.ratios))} (${fmt(Math.min(...r.ratios))}–${fmt(Math.max(...r.ratios))})`);
      }
      log('  sizes ours sent at the end of each window: ' + rows.map((r) => `${r.config} ${r.sentSize}`).join('; '));
      log('  where ours goes: ' + rows.map((r) => `${r.config} Chromium ${fmt(r.parts.chromium)} (GPU process ${fmt(r.parts.gpu)}, renderers ${fmt(r.parts.renderers)}), Janus ${fmt(r.parts.janus)}, Node ${fmt(r.parts.node)}`).join('; '));
      for (const [w, h] of [[1280, 720], [1920, 1080]] as const) {
        const u = await uncapturedCost(t.config.chromiumPath, `${pages.url}/tone`, w, h, WINDOW_MS);
        const captured = rows.find((r) => r.config === `${w}x${h}@30`);
        log(`  the same light page in the same Chromium at ${w}x${h}, shown but not captured: ${fmt(u.cores)} cores (GPU process ${fmt(u.gpu)}, renderers ${fmt(u.renderers)}); captured at 30 fps the GPU process takes ${fmt(captured?.parts.gpu ?? NaN)}`);
      }
      log('  CPU-seconds per task-minute: ' + rows.map((r) => `${r.config} ours ${fmt(r.oursCores * 60, 0)} s, classic ${fmt(r.baseCores * 60, 0)} s`).join('; '));

    }

    if (section('webgl')) {
      // No GPU on these machines: WebGL is drawn by SwiftShader, on the CPU, in the GPU process.
      // (The classic pipeline's Chromium draws no WebGL at all in Xvfb: no baseline to compare.)
      // It wants more than a task's CPU ceiling (1.4 cores at this size): the price of the
      // ceiling is measured here against the same page without one.
      log('\nA WebGL page (a full-window animated shader, drawn at 60 fps), 1280x720@30, ours:');
      const line = (m: Awaited<ReturnType<typeof measureOurs>>, what: string) =>
        `  ${fmt(m.ours.cores)} cores, ${fmt(m.oursFps, 1)} fps at a subscriber (Chromium ${fmt(m.parts.chromium)}, of which the GPU process ${fmt(m.parts.gpu)}; sent ${m.sentSize}), ${what}`;
      log(line(await measureOurs(1280, 720, 30, 'webgl'), `under the task's CPU ceiling (${fmt(taskCpuCeiling([{ Width: 1280, Height: 720, FrameRate: 30, Bitrate: 0 }]))} cores)`));
      await t.close();
      await startNode('vp8', 2, { WEBCAST_TASK_CPU_MILLICORES: '0' });
      log(line(await measureOurs(1280, 720, 30, 'webgl'), 'without a ceiling (WEBCAST_TASK_CPU_MILLICORES=0)'));
      await t.close();
      await startNode('vp8', MAX_CAPACITY + 2);
    }

    if (section('capacity')) {
      log('\nCapacity: 1280x720@15 tasks on one node until the slowest sends below 90% of 15 fps:');
      const cap = await capacity();
      const perTask = cap.steps.length > 1 ? ((cap.steps[cap.steps.length - 1]?.pssMB ?? 0) - (cap.steps[0]?.pssMB ?? 0)) / (cap.steps.length - 1) : NaN;
      log(`  holds ${cap.held} task(s); memory per added task ${fmt(perTask, 0)} MB PSS (mean over the steps)`);
    }

    if (section('h264') && rows.length > 0) {
      log('\nThe same with WEBCAST_VIDEO_CODEC=h264 (OpenH264), against the classic figures above:');
      await t.close();
      await startNode('h264', 2);
      for (const r of rows) {
        const [w, h, f] = r.config.split(/[x@ ]/).map(Number) as [number, number, number];
        const m = await measureOurs(w, h, f, r.config.endsWith('busy') ? 'busy' : 'tone');
        log(`  ${r.config.padEnd(16)}  ${fmt(m.ours.cores).padStart(10)}  ${fmt(m.oursFps, 1).padStart(5)}  ${fmt(m.ours.pssBytes / 2 ** 20, 0).padStart(6)} | CPU ratio h264/classic ${fmt(m.ours.cores / r.baseCores)}, h264/vp8 ${fmt(m.ours.cores / r.oursCores)}  (Chromium ${fmt(m.parts.chromium)}, sent ${m.sentSize})`);
      }
      await t.close();
      await startNode('vp8', 2);
    }

    if (section('sync')) {
      log(`\nAudio/video sync, 1280x720@30 page flashing and beeping once a second, ${SYNC_MS / 1000} s:`);
      const ours = await syncOurs();
      log(`  ${syncLine('ours', ours)}  (recorded at the subscriber, WEBCAST_VIDEO_DELAY_MS=${t.config.videoDelayMs})`);
      log(`            offsets in order: ${ours.offsets.map((o) => o.toFixed(0)).join(' ')}`);
      await t.close();
      await startNode('vp8', 2, { WEBCAST_VIDEO_DELAY_MS: '0' });
      log(`  ${syncLine('ours, 0', await syncOurs())}  (the same without holding the picture back)`);
      log(`  ${syncLine('classic', await syncBaseline())}  (in ffmpeg's output)`);
    }

    if (section('cluster-api')) {
      log('\nSigned GetWebCastTask answered per second by one API-only node, 16 callers at once, SQLite against PostgreSQL (its shared rate-limit count included), alternated:');
      const tp = await apiThroughput(3, 5000);
      const ratios = tp.postgres.map((p, i) => p / (tp.sqlite[i] ?? NaN));
      log(`  SQLite ${fmt(median(tp.sqlite), 0)}/s, PostgreSQL ${fmt(median(tp.postgres), 0)}/s (medians of ${tp.sqlite.length}); ratio PostgreSQL/SQLite ${fmt(median(ratios))} (${ratios.map((r) => fmt(r)).join(', ')})`);
    }

    if (section('admission')) {
      log('\nAdmission by cost, default settings: a mixed load started one every 2 s, then 40 s to settle:');
      for (const line of await admissionUnderMixedLoad()) log(`  ${line}`);
    }

    if (section('failover')) {
      const runs = Number(process.env.BENCH_FAILOVERS ?? 5);
      log(`\nFailover: SIGKILL of the worker that runs a 640x360@15 task → frames at a new viewer, two workers, default lease (${runs} runs):`);
      const times = await failover(pages, runs);
      log(`  median ${fmt(median(times) / 1000, 1)} s  (runs: ${times.map((x) => (x / 1000).toFixed(1)).join(', ')} s)`);
    }
  } finally {
    await t.close();
    await pages.close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
