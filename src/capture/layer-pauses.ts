/** A layer that sends no frame this long while another layer does is paused by the browser's encoder. */
const PAUSED_AFTER_MS = 3_000;
/**
 * A layer's pauses are told at most once in this span: a layer that flaps (a page whose load
 * comes and goes, a link at the edge of its bandwidth) would otherwise fill the log with up to
 * 20 lines a minute per layer. The next pause told says how many went untold before it.
 */
export const PAUSES_TOLD_EVERY_MS = 60_000;

export interface LayerSample {
  rid: string;
  framesSent: number;
  /** The browser's qualityLimitationReason for the layer: 'bandwidth', 'cpu', 'other' or 'none'. */
  limitation: string;
}

export type LayerChange =
  /** `untold`: the layer's pauses since the last one told, which were not told. */
  | { kind: 'paused'; rid: string; limitation: string; untold: number }
  | { kind: 'resumed'; rid: string; pausedMs: number };

interface LayerState {
  frames: number;
  lastSentAt: number;
  pausedAt?: number;
  /** Whether the pause going on now was told (its end is told only if it was). */
  told?: boolean;
}

/**
 * Which simulcast layers the browser stopped sending while it sends others. WebRTC turns a
 * layer off by itself when its estimate of the bandwidth to the room, or the CPU, cannot carry
 * it; an SFU then gives that layer's viewers another one, and a player that asks for it is
 * left on the other layer without a word. The operator is told when it happens and why (the
 * browser's own reason), and when it ends. A page that stands still pauses no layer here:
 * every layer stops at once, which is not a pause of one.
 */
export class LayerPauses {
  private readonly layers = new Map<string, LayerState>();
  private readonly lastTold = new Map<string, { at: number; untold: number }>();

  /** The layers' counters at `at` ms on any one clock; returns what changed since the last call. */
  update(samples: readonly LayerSample[], at: number): LayerChange[] {
    if (samples.length < 2) return [];
    const sending = samples.filter((s) => {
      const seen = this.layers.get(s.rid);
      return seen === undefined || s.framesSent > seen.frames;
    });
    const changes: LayerChange[] = [];
    for (const s of samples) {
      const seen = this.layers.get(s.rid);
      if (!seen || s.framesSent < seen.frames) {
        // New, or a new connection counting from zero again.
        this.layers.set(s.rid, { frames: s.framesSent, lastSentAt: at });
        continue;
      }
      if (s.framesSent > seen.frames) {
        if (seen.pausedAt !== undefined && seen.told) changes.push({ kind: 'resumed', rid: s.rid, pausedMs: at - seen.pausedAt });
        this.layers.set(s.rid, { frames: s.framesSent, lastSentAt: at });
      } else if (seen.pausedAt === undefined && sending.length > 0 && at - seen.lastSentAt >= PAUSED_AFTER_MS) {
        seen.pausedAt = seen.lastSentAt;
        const last = this.lastTold.get(s.rid);
        seen.told = last === undefined || at - last.at >= PAUSES_TOLD_EVERY_MS;
        if (seen.told) {
          changes.push({ kind: 'paused', rid: s.rid, limitation: s.limitation || 'none', untold: last?.untold ?? 0 });
          this.lastTold.set(s.rid, { at, untold: 0 });
        } else if (last) {
          last.untold += 1;
        }
      }
    }
    return changes;
  }

  /** The rids paused now. */
  paused(): string[] {
    return [...this.layers].filter(([, l]) => l.pausedAt !== undefined).map(([rid]) => rid);
  }
}
