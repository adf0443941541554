/** A host's refusals are told at most once in this span. */
export const REFUSALS_TOLD_EVERY_MS = 60_000;
/** And at most this many refusals are told in any such span, whatever the hosts. */
export const REFUSALS_TOLD_PER_SPAN = 20;
/** Hosts remembered before the ones told longer ago than the span are forgotten. */
const HOSTS_KEPT = 1000;

/**
 * Which of the egress proxy's refusals the log tells. Each refusal of a page's request is worth
 * a line to an operator (which host, why), but a page decides how many it makes: one that
 * asked for private addresses without end wrote 280 lines a second (2026-11-28), 7 GB a day
 * from one page, enough to make journald drop the node's other lines under its rate limit.
 * So a host is told once a span, at most REFUSALS_TOLD_PER_SPAN lines in all are told a span,
 * and the next line told says how many were not (`untold`). The metric counts them all.
 */
export class ToldRefusals {
  private readonly hostToldAt = new Map<string, number>();
  private told: number[] = [];
  private untold = 0;

  /** Whether to tell this refusal now, and how many went untold before it. */
  refused(host: string, at: number): { untold: number } | undefined {
    const since = at - REFUSALS_TOLD_EVERY_MS;
    this.told = this.told.filter((t) => t > since);
    const hostAt = this.hostToldAt.get(host);
    if ((hostAt !== undefined && hostAt > since) || this.told.length >= REFUSALS_TOLD_PER_SPAN) {
      this.untold += 1;
      return undefined;
    }
    if (this.hostToldAt.size >= HOSTS_KEPT) for (const [h, t] of this.hostToldAt) if (t <= since) this.hostToldAt.delete(h);
    this.hostToldAt.set(host, at);
    this.told.push(at);
    const untold = this.untold;
    this.untold = 0;
    return { untold };
  }
}
