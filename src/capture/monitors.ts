/**
 * The page checks, on small samples of the captured picture (64x36 RGB, so a check costs
 * next to nothing):
 * - blank: every channel varies by at most BLANK_MAX_SPREAD across the sample (one uniform
 *   colour: a white or black page);
 * - frozen: the sample differs from the previous one (an interval earlier) by less than
 *   FREEZE_MAX_MEAN_DIFF per channel on average. A deliberately static page (a slide) is
 *   frozen by this rule, which is why it is checked only when FreezeCheckInterval asks.
 */
export const SAMPLE_WIDTH = 64;
export const SAMPLE_HEIGHT = 36;
export const BLANK_MAX_SPREAD = 8;
export const FREEZE_MAX_MEAN_DIFF = 0.5;

export function isBlank(rgb: ArrayLike<number>): boolean {
  const min = [255, 255, 255];
  const max = [0, 0, 0];
  for (let i = 0; i + 2 < rgb.length; i += 3) {
    for (let c = 0; c < 3; c += 1) {
      const v = rgb[i + c] ?? 0;
      if (v < (min[c] ?? 0)) min[c] = v;
      if (v > (max[c] ?? 0)) max[c] = v;
    }
  }
  return [0, 1, 2].every((c) => (max[c] ?? 0) - (min[c] ?? 0) <= BLANK_MAX_SPREAD);
}

export function meanAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length || a.length === 0) return Infinity;
  let sum = 0;
  for (let i = 0; i < a.length; i += 1) sum += Math.abs((a[i] ?? 0) - (b[i] ?? 0));
  return sum / a.length;
}

export type MonitorVerdict = 'ok' | 'hit' | 'refresh' | 'reschedule';

/**
 * Two hits in a row refresh the page; two more in a row after that reschedule it. A clean
 * check forgets the hits. The refresh is forgotten only once the page has stayed clean for
 * RECOVERED_AFTER checks in a row: a page that comes back for a moment after each refresh and
 * blanks again is rescheduled, not refreshed for ever (its clean moment after a reload would
 * otherwise let every other check start over).
 */
export const RECOVERED_AFTER = 3;

export class HitCounter {
  private hits = 0;
  private refreshed = false;
  private clean = 0;

  check(hit: boolean): MonitorVerdict {
    if (!hit) {
      this.hits = 0;
      this.clean += 1;
      if (this.clean >= RECOVERED_AFTER) this.refreshed = false;
      return 'ok';
    }
    this.clean = 0;
    this.hits += 1;
    if (this.hits < 2) return 'hit';
    this.hits = 0;
    if (!this.refreshed) {
      this.refreshed = true;
      return 'refresh';
    }
    this.refreshed = false;
    return 'reschedule';
  }
}
