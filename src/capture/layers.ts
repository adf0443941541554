import type { VideoSolution } from '../tasks/types.js';

/** One encoding of the published video, as RTCRtpSender wants it. */
export interface Layer {
  rid: string;
  width: number;
  height: number;
  scaleResolutionDownBy: number;
  maxFramerate: number;
  /** bits per second; undefined = adaptive */
  maxBitrate: number | undefined;
}

export interface CapturePlan {
  /** The page renders, and is captured, at exactly this size. */
  render: { width: number; height: number; frameRate: number };
  /** The big layer first. */
  layers: Layer[];
}

const pixels = (v: VideoSolution): number => v.Width * v.Height;

/**
 * Maps VideoSolutions to a capture size and simulcast encodings: the page renders at the
 * largest solution; a smaller one is the same picture scaled down to fit inside its size
 * (the page's aspect ratio is kept), at its own frame rate and bitrate.
 */
export function planCapture(solutions: readonly VideoSolution[]): CapturePlan {
  const sorted = [...solutions].sort((a, b) => pixels(b) - pixels(a));
  const big = sorted[0];
  if (!big) throw new Error('a task has at least one VideoSolution');
  const layers = sorted.map((s, i): Layer => {
    const scale = Math.max(1, big.Width / s.Width, big.Height / s.Height);
    return {
      rid: i === 0 ? 'h' : 'l',
      width: Math.round(big.Width / scale),
      height: Math.round(big.Height / scale),
      scaleResolutionDownBy: scale,
      maxFramerate: s.FrameRate,
      maxBitrate: s.Bitrate > 0 ? s.Bitrate * 1000 : undefined,
    };
  });
  return { render: { width: big.Width, height: big.Height, frameRate: Math.max(...sorted.map((s) => s.FrameRate)) }, layers };
}
