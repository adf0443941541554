import { execFileSync } from 'node:child_process';
import { median } from './median.js';

/**
 * Audio/video offset in a recording of the sync page: when each white flash starts (video
 * luma) against when the nearest beep starts (audio level). Positive = audio late.
 */
export interface SyncResult {
  pairs: number;
  medianMs: number;
  minMs: number;
  maxMs: number;
  /** The trend of the offset after the first 10 s (a least-squares line), as ms per minute. */
  driftMsPerMin: number;
  /** Offsets after the first 10 s, when the receiver has settled: their range. */
  settledMinMs: number;
  settledMaxMs: number;
  /** Every offset in order, for a reader who wants to look. */
  offsets: number[];
}

function ffmpegLines(file: string, filter: string, audio: boolean): string[] {
  const out = execFileSync('ffmpeg', ['-hide_banner', '-nostats', '-i', file, ...(audio ? ['-vn', '-af'] : ['-an', '-vf']), filter, '-f', 'null', '-'], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return out.split('\n');
}

/** Times at which a sampled value crosses `threshold` upwards, at least `minGap` apart. */
function risingEdges(samples: Iterable<[number, number]>, threshold: number, minGap: number): number[] {
  const times: number[] = [];
  let above = true;
  for (const [t, value] of samples) {
    if (value > threshold && !above && (times.length === 0 || t - (times.at(-1) ?? 0) > minGap)) times.push(t);
    above = value > threshold;
  }
  return times;
}

/** ffmpeg's per-frame metadata lines as (seconds, value) samples of `key`. */
function* ffmpegSamples(lines: string[], key: string): Generator<[number, number]> {
  let t = NaN;
  const pattern = new RegExp(`${key.replace(/\./g, '\\.')}=(-?[\\d.]+|-inf)`);
  for (const line of lines) {
    const pts = /pts_time:([\d.]+)/.exec(line);
    if (pts?.[1]) t = Number(pts[1]);
    const v = pattern.exec(line);
    if (v?.[1]) yield [t, v[1] === '-inf' ? -Infinity : Number(v[1])];
  }
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / (xs.length || 1);

/** The receiver's jitter buffer and lip sync settle in the first seconds; drift is judged after. */
const SETTLE_S = 10;

/** Least-squares slope of y over x. */
function slope(points: [number, number][]): number {
  const mx = mean(points.map(([x]) => x));
  const my = mean(points.map(([, y]) => y));
  const sxx = points.reduce((a, [x]) => a + (x - mx) ** 2, 0);
  return sxx ? points.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0) / sxx : NaN;
}

/** Each flash paired with the nearest beep (within 450 ms); times in seconds. */
function summarise(flashes: number[], beeps: number[]): SyncResult {
  const pairs: [number, number][] = [];
  for (const f of flashes) {
    const nearest = beeps.reduce((best, b) => (Math.abs(b - f) < Math.abs(best - f) ? b : best), Infinity);
    if (Math.abs(nearest - f) < 0.45) pairs.push([f, (nearest - f) * 1000]);
  }
  const offsets = pairs.map(([, o]) => o);
  const start = pairs[0]?.[0] ?? 0;
  const settled = pairs.filter(([t]) => t - start >= SETTLE_S);
  return {
    pairs: offsets.length,
    medianMs: median(offsets),
    minMs: Math.min(...offsets),
    maxMs: Math.max(...offsets),
    driftMsPerMin: slope(settled) * 60,
    settledMinMs: Math.min(...settled.map(([, o]) => o)),
    settledMaxMs: Math.max(...settled.map(([, o]) => o)),
    offsets,
  };
}

/** In a recording (a file ffmpeg reads): when each white flash starts against its beep. */
export function measureSync(file: string): SyncResult {
  const flashes = risingEdges(ffmpegSamples(ffmpegLines(file, 'scale=32:18,signalstats,metadata=print:key=lavfi.signalstats.YAVG:file=-', false), 'lavfi.signalstats.YAVG'), 128, 0.5);
  const audio = ffmpegLines(file, 'aresample=48000,asetnsamples=n=240,astats=metadata=1:reset=1,ametadata=print:key=lavfi.astats.Overall.RMS_level:file=-', true);
  const beeps = risingEdges(ffmpegSamples(audio, 'lavfi.astats.Overall.RMS_level'), -35, 0.5);
  return summarise(flashes, beeps);
}

