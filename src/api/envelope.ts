import { randomBytes } from 'node:crypto';
import type { ApiError } from './errors.js';

export interface ResponseMetadata {
  RequestId: string;
  Action: string;
  Version: string;
  Service: 'rtc';
  Region: string;
  Error?: { CodeN?: number; Code: string; Message: string };
}

/** Like the vendor's: a timestamp to the second, then random hex, so ids sort by time. */
export function newRequestId(now: number): string {
  const stamp = new Date(now).toISOString().replace(/[-:T]|\.\d{3}Z$/g, '');
  return `${stamp}${randomBytes(10).toString('hex').toUpperCase()}`;
}

export function successBody(meta: Omit<ResponseMetadata, 'Error'>, result: unknown): { ResponseMetadata: ResponseMetadata; Result: unknown } {
  return { ResponseMetadata: meta, Result: result };
}

export function errorBody(meta: Omit<ResponseMetadata, 'Error'>, err: ApiError): { ResponseMetadata: ResponseMetadata } {
  return {
    ResponseMetadata: {
      ...meta,
      Error: { ...(err.codeN === undefined ? {} : { CodeN: err.codeN }), Code: err.code, Message: err.message },
    },
  };
}
