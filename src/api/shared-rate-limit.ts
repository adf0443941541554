import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit';

/**
 * Request counts shared by every node of a cluster: the vendor's limits are per account, so
 * N nodes behind a load balancer must not allow N times as much. Fixed windows aligned to the
 * wall clock, so that every node counts into the same one.
 */
export interface SharedCounter {
  /** Adds one to `key`'s count in the window that starts at second `window` (Unix time) and returns the new count. */
  increment(key: string, window: number): Promise<number>;
}

/** The route a store counts for (none for a limit made by `app.rateLimit`, whose keys say what they count). */
interface RouteInfo {
  method?: string | string[];
  url?: string;
}

/**
 * A @fastify/rate-limit store over a SharedCounter. Each route counts apart (the console's
 * sign-in and the WHEP offers are both keyed by address), and a window is stored as the second
 * it starts, so windows of any length age out alike. If the counter fails, the request is let
 * through: a database hiccup must not turn the API off.
 */
export function sharedRateLimitStore(counter: SharedCounter, onError: (err: unknown) => void): FastifyRateLimitStoreCtor {
  return class SharedStore implements FastifyRateLimitStore {
    private readonly prefix: string;

    constructor(_options?: unknown, route?: RouteInfo) {
      this.prefix = route?.url ? `${[route.method ?? ''].flat().join(',')} ${route.url}|` : '';
    }

    incr(key: string, callback: (error: Error | null, result?: { current: number; ttl: number }) => void, timeWindow: number): void {
      const now = Date.now();
      const index = Math.floor(now / timeWindow);
      const ttl = (index + 1) * timeWindow - now;
      counter.increment(`${this.prefix}${key}`, Math.floor((index * timeWindow) / 1000)).then(
        (current) => callback(null, { current, ttl }),
        (err: unknown) => {
          onError(err);
          callback(null, { current: 0, ttl });
        },
      );
    }

    child(params: Parameters<FastifyRateLimitStore['child']>[0]): FastifyRateLimitStore {
      // At run time the plugin passes the route's merged limit options, with the route itself as
      // `routeInfo` (its index.js, mergeParams), not the RouteOptions its types name.
      return new SharedStore(undefined, (params as unknown as { routeInfo?: RouteInfo }).routeInfo);
    }
  };
}
