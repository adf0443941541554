import type { FastifyRequest } from 'fastify';
import { ApiError } from './errors.js';

/**
 * The raw body (kept raw for the signature) parsed as JSON. An empty body is refused, unless
 * `empty` says what it stands for.
 */
export function jsonBody(req: FastifyRequest, empty?: unknown): unknown {
  const text = req.body instanceof Buffer ? req.body.toString('utf8') : '';
  if (text.trim() === '') {
    if (empty !== undefined) return empty;
    throw new ApiError('InvalidParameter.BodyIsEmpty', 'the request body is empty; send the parameters as a JSON object');
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ApiError('InvalidParameter.Unmarshal', `the request body is not valid JSON: ${(err as Error).message}`);
  }
}
