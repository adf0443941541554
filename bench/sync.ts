import { execFileSync } from 'node:child_process';

/**
 * Audio/video offset in a recording of the sync page: when each white flash starts (video
 * luma) against when the nearest beep starts (audio level). Positive = audio late.
 */
export interface SyncResult {
  pairs: number;
  medianMs: number;
  minMs: number;
  maxMs: number;
  /** Mean offset of the last 10 pairs minus that of the first 10. */
  driftMs: number;
}

function ffmpegLines(file: string, filter: string, audio: boolean): string[] {
  const out = execFileSync('ffmpeg', ['-hide_banner', '-nostats', '-i', file, ...(audio ? ['-vn', '-af'] : ['-an', '-vf']), filter, '-f', 'null', '-'], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return out.split('\n');
}

/** Times (s) at which a per-frame value crosses `threshold` upwards. */
function onsets(lines: string[], key: string, threshold: number, minGap: number): number[] {
  const times: number[] = [];
  let t = NaN;
  let above = true;
  for (const line of lines) {
    const pts = /pts_time:([\d.]+)/.exec(line);
    if (pts?.[1]) t = Number(pts[1]);
    const v = new RegExp(`${key.replace(/\./g, '\\.')}=(-?[\\d.]+|-inf)`).exec(line);
    if (!v?.[1]) continue;
    const value = v[1] === '-inf' ? -Infinity : Number(v[1]);
    if (value > threshold && !above && (times.length === 0 || t - (times.at(-1) ?? 0) > minGap)) times.push(t);
    above = value > threshold;
  }
  return times;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? ((s[(s.length - 1) >> 1] ?? 0) + (s[s.length >> 1] ?? 0)) / 2 : NaN;
};
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / (xs.length || 1);

export function measureSync(file: string): SyncResult {
  const flashes = onsets(ffmpegLines(file, 'scale=32:18,signalstats,metadata=print:key=lavfi.signalstats.YAVG:file=-', false), 'lavfi.signalstats.YAVG', 128, 0.5);
  const beeps = onsets(
    ffmpegLines(file, 'aresample=48000,asetnsamples=n=240,astats=metadata=1:reset=1,ametadata=print:key=lavfi.astats.Overall.RMS_level:file=-', true),
    'lavfi.astats.Overall.RMS_level',
    -35,
    0.5,
  );
  const offsets: number[] = [];
  for (const f of flashes) {
    const nearest = beeps.reduce((best, b) => (Math.abs(b - f) < Math.abs(best - f) ? b : best), Infinity);
    if (Math.abs(nearest - f) < 0.45) offsets.push((nearest - f) * 1000);
  }
  return {
    pairs: offsets.length,
    medianMs: median(offsets),
    minMs: Math.min(...offsets),
    maxMs: Math.max(...offsets),
    driftMs: mean(offsets.slice(-10)) - mean(offsets.slice(0, 10)),
  };
}
