import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The vendor's "HMAC-SHA256" request signature (V4 style), both ways: to sign a request
 * (our CLI, tests) and to recompute a received one. Pure; knows nothing of HTTP servers.
 */
export const ALGORITHM = 'HMAC-SHA256';

export const sha256Hex = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string): Buffer => createHmac('sha256', key).update(data).digest();

/** RFC 3986: everything but unreserved characters is percent-encoded, space as %20. */
export function rfc3986(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

export type QueryPairs = readonly (readonly [string, string])[];

export function canonicalQuery(pairs: QueryPairs): string {
  return pairs
    .map(([k, v]) => [rfc3986(k), rfc3986(v)] as const)
    .sort(([ak, av], [bk, bv]) => (ak === bk ? (av < bv ? -1 : av > bv ? 1 : 0) : ak < bk ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}

export interface CanonicalInput {
  method: string;
  path: string;
  query: QueryPairs;
  /** Lower-cased names to values, for exactly the signed headers. */
  headers: ReadonlyMap<string, string>;
  signedHeaders: readonly string[];
  bodyHash: string;
}

export function canonicalRequest(r: CanonicalInput): string {
  const names = [...r.signedHeaders].sort();
  // Each header line ends in a newline, and the block ends in one more even when it is empty,
  // exactly as the vendor's SDKs build it.
  const headerLines = `${names.map((n) => `${n}:${(r.headers.get(n) ?? '').trim().replace(/\s+/g, ' ')}`).join('\n')}\n`;
  return [r.method.toUpperCase(), r.path || '/', canonicalQuery(r.query), headerLines, names.join(';'), r.bodyHash].join('\n');
}

export interface Scope {
  date: string;
  region: string;
  service: string;
}

export const scopeString = (s: Scope): string => `${s.date}/${s.region}/${s.service}/request`;

export function stringToSign(xDate: string, scope: Scope, canonical: string): string {
  return [ALGORITHM, xDate, scopeString(scope), sha256Hex(canonical)].join('\n');
}

export function signingKey(secretKey: string, scope: Scope): Buffer {
  const kDate = hmac(secretKey, scope.date);
  const kRegion = hmac(kDate, scope.region);
  const kService = hmac(kRegion, scope.service);
  return hmac(kService, 'request');
}

export function computeSignature(secretKey: string, xDate: string, scope: Scope, canonical: string): string {
  return createHmac('sha256', signingKey(secretKey, scope)).update(stringToSign(xDate, scope, canonical)).digest('hex');
}

export function signaturesEqual(expectedHex: string, givenHex: string): boolean {
  const a = Buffer.from(expectedHex, 'utf8');
  const b = Buffer.from(givenHex.toLowerCase(), 'utf8');
  // timingSafeEqual needs equal lengths; comparing against itself keeps the time constant.
  return a.length === b.length ? timingSafeEqual(a, b) : !timingSafeEqual(a, a);
}

/** `20060102T150405Z` */
export function formatXDate(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]|\.\d{3}/g, '');
}

export function parseXDate(value: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  return Number.isNaN(ms) ? undefined : ms;
}

export interface SignOptions {
  method: string;
  url: URL;
  /** The headers to sign and send, besides X-Date and X-Content-Sha256 which are added. */
  headers?: Record<string, string>;
  body?: string;
  accessKey: string;
  secretKey: string;
  region?: string;
  service?: string;
  now?: number;
}

/** Signs in the header form; returns every header to send, Authorization included. */
export function signRequest(o: SignOptions): Record<string, string> {
  const xDate = formatXDate(o.now ?? Date.now());
  const scope: Scope = { date: xDate.slice(0, 8), region: o.region ?? 'cn-north-1', service: o.service ?? 'rtc' };
  const bodyHash = sha256Hex(o.body ?? '');
  const headers: Record<string, string> = { ...o.headers, 'X-Date': xDate, 'X-Content-Sha256': bodyHash };
  const lower = new Map(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  const signed = [...lower.keys()].sort();
  const canonical = canonicalRequest({
    method: o.method,
    path: o.url.pathname,
    query: [...o.url.searchParams.entries()],
    headers: lower,
    signedHeaders: signed,
    bodyHash,
  });
  const signature = computeSignature(o.secretKey, xDate, scope, canonical);
  headers.Authorization = `${ALGORITHM} Credential=${o.accessKey}/${scopeString(scope)}, SignedHeaders=${signed.join(';')}, Signature=${signature}`;
  return headers;
}
