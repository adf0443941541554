import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit';

/**
 * Request counts shared by every node of a cluster: the vendor's limits are per account, so
 * N nodes behind a load balancer must not allow N times as much. Fixed windows aligned to the
 * wall clock, so that every node counts into the same one.
 */
export interface SharedCounter {
  /** Adds one to `key`'s count in window number `window` and returns the new count. */
  increment(key: string, window: number): Promise<number>;
}

/** A @fastify/rate-limit store over a SharedCounter. If the counter fails, the request is let through: a database hiccup must not turn the API off. */
export function sharedRateLimitStore(counter: SharedCounter, onError: (err: unknown) => void): FastifyRateLimitStoreCtor {
  return class SharedStore implements FastifyRateLimitStore {
    incr(key: string, callback: (error: Error | null, result?: { current: number; ttl: number }) => void, timeWindow: number): void {
      const now = Date.now();
      const window = Math.floor(now / timeWindow);
      const ttl = (window + 1) * timeWindow - now;
      counter.increment(key, window).then(
        (current) => callback(null, { current, ttl }),
        (err: unknown) => {
          onError(err);
          callback(null, { current: 0, ttl });
        },
      );
    }

    child(): FastifyRateLimitStore {
      return new SharedStore();
    }
  };
}
