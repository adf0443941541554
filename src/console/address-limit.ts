import { ApiError } from '../api/errors.js';

/**
 * A route's limit per client address and minute (the key @fastify/rate-limit uses by default
 * is the address), refused in the API's envelope as `FlowLimitExceeded` with when to retry.
 * `refusal` says what was exceeded, from the client's side.
 */
export function perAddressPerMinute(max: number, refusal: string) {
  return {
    max,
    timeWindow: 60_000,
    errorResponseBuilder: (_req: unknown, ctx: { after: string }) => new ApiError('FlowLimitExceeded', `${refusal}; retry in ${ctx.after}`),
  };
}
