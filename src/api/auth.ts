import type { IncomingHttpHeaders } from 'node:http';
import { ApiError } from './errors.js';
import type { AccessKeyPair, KeyRing } from './credentials.js';
import {
  ALGORITHM,
  canonicalRequest,
  computeSignature,
  parseXDate,
  sha256Hex,
  signaturesEqual,
  type QueryPairs,
  type Scope,
} from './signature.js';

export interface SignedRequest {
  method: string;
  path: string;
  /** The query as received, decoded, in order. */
  query: QueryPairs;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface VerifyOptions {
  keys: KeyRing;
  now: number;
  maxClockSkewMs: number;
  /** The node's region (WEBCAST_REGION): the only one a credential scope may name. */
  region: string;
}

/** The service name every official SDK signs this API's requests for. */
export const SIGNING_SERVICE = 'rtc';

/** The parts of a signature, from either the Authorization header or the query string. */
interface Credential {
  accessKey: string;
  scope: Scope;
  xDate: string;
  signedHeaders: string[];
  signature: string;
  /** Query form only: seconds the signed URL stays valid. */
  expiresSec?: number;
  /** Query form only: the canonical queries the signer may have signed (see fromQuery). */
  queryForms: readonly ((pairs: QueryPairs) => QueryPairs)[];
  bodyHash: string;
}

const DEFAULT_URL_EXPIRY_SEC = 900;
/** The longest a presigned URL may stay valid: 7 days, as for the vendor's own. */
const MAX_URL_EXPIRY_SEC = 7 * 24 * 3600;
const everyPair = (pairs: QueryPairs): QueryPairs => pairs;

const headerValue = (h: IncomingHttpHeaders, name: string): string | undefined => {
  const v = h[name];
  return Array.isArray(v) ? v.join(',') : v;
};

function parseScope(credential: string): { accessKey: string; scope: Scope } {
  const parts = credential.split('/');
  const [accessKey, date, region, service, terminator] = parts;
  if (parts.length !== 5 || !accessKey || !date || !region || !service || terminator !== 'request') {
    throw new ApiError('MissingAuthenticationToken', 'Credential must be {AccessKey}/{YYYYMMDD}/{region}/{service}/request');
  }
  return { accessKey, scope: { date, region, service } };
}

function fromAuthorizationHeader(auth: string, headers: IncomingHttpHeaders, bodyHash: string): Credential {
  const space = auth.indexOf(' ');
  const algorithm = space < 0 ? auth : auth.slice(0, space);
  if (algorithm !== ALGORITHM) {
    throw new ApiError('MissingAuthenticationToken', `Authorization must start with ${ALGORITHM}`);
  }
  const fields = new Map<string, string>();
  for (const part of auth.slice(space + 1).split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const credential = fields.get('Credential');
  if (!credential) throw new ApiError('MissingAuthenticationToken', 'Authorization has no Credential');
  const signature = fields.get('Signature');
  if (!signature) throw new ApiError('MissingSignature', 'Authorization has no Signature');
  const xDate = headerValue(headers, 'x-date');
  if (!xDate) throw new ApiError('InvalidTimestamp', 'the X-Date header is missing');
  return {
    ...parseScope(credential),
    xDate,
    signedHeaders: (fields.get('SignedHeaders') ?? '').split(';').map((h) => h.trim().toLowerCase()).filter(Boolean),
    signature,
    queryForms: [everyPair],
    bodyHash,
  };
}

/**
 * A presigned URL signs every parameter but X-Signature. The official SDKs differ only in
 * X-SignedQueries: the Node SDK adds it after signing (so it is not signed), the Go and Python
 * SDKs before (so it is). Either way no parameter can be added to a signed URL unnoticed.
 */
const withoutSignature = (pairs: QueryPairs): QueryPairs => pairs.filter(([k]) => k !== 'X-Signature');
const withoutSignedQueries = (pairs: QueryPairs): QueryPairs => pairs.filter(([k]) => k !== 'X-Signature' && k !== 'X-SignedQueries');

function fromQuery(query: Map<string, string>, bodyHash: string, hasBody: boolean): Credential {
  const algorithm = query.get('X-Algorithm');
  if (algorithm !== undefined && algorithm !== ALGORITHM) {
    throw new ApiError('MissingAuthenticationToken', `X-Algorithm must be ${ALGORITHM}`);
  }
  const signature = query.get('X-Signature');
  if (!signature) throw new ApiError('MissingSignature', 'the query has X-Credential but no X-Signature');
  const xDate = query.get('X-Date');
  if (!xDate) throw new ApiError('InvalidTimestamp', 'the X-Date query parameter is missing');
  const expires = query.get('X-Expires');
  const expiresSec = expires === undefined ? DEFAULT_URL_EXPIRY_SEC : Number(expires);
  if (!Number.isInteger(expiresSec) || expiresSec < 1 || expiresSec > MAX_URL_EXPIRY_SEC) {
    throw new ApiError('InvalidTimestamp', `X-Expires must be a whole number of seconds in [1, ${MAX_URL_EXPIRY_SEC}] (7 days), got "${expires ?? ''}"`);
  }
  // X-NotSignBody leaves the body out of the signature: anyone holding the URL could send any
  // body with it (one presigned StartWebcast, many different tasks).
  if (query.has('X-NotSignBody') && hasBody) {
    throw new ApiError('SignatureDoesNotMatch', 'a presigned URL with X-NotSignBody does not sign a body, so it cannot carry one; sign a request with a body in the Authorization header');
  }
  return {
    ...parseScope(query.get('X-Credential') ?? ''),
    xDate,
    signedHeaders: (query.get('X-SignedHeaders') ?? '').split(';').map((h) => h.trim().toLowerCase()).filter(Boolean),
    signature,
    expiresSec,
    queryForms: query.has('X-SignedQueries') ? [withoutSignature, withoutSignedQueries] : [withoutSignature],
    // A presigned URL may leave the body out of the signature, as the vendor's SDKs do.
    bodyHash: query.has('X-NotSignBody') ? sha256Hex('') : bodyHash,
  };
}

function checkScope(c: Credential, o: VerifyOptions): void {
  if (c.scope.service !== SIGNING_SERVICE) {
    throw new ApiError('SignatureDoesNotMatch', `the credential scope names the service "${c.scope.service}"; requests to this API are signed for the service "${SIGNING_SERVICE}"`);
  }
  if (c.scope.region !== o.region) {
    throw new ApiError('SignatureDoesNotMatch', `the credential scope names the region "${c.scope.region}"; this service signs in the region "${o.region}" (WEBCAST_REGION)`);
  }
}

function checkTime(c: Credential, o: VerifyOptions): void {
  const signedAt = parseXDate(c.xDate);
  if (signedAt === undefined) throw new ApiError('InvalidTimestamp', `X-Date must look like 20060102T150405Z, got "${c.xDate}"`);
  if (Math.abs(o.now - signedAt) > o.maxClockSkewMs && (c.expiresSec === undefined || o.now < signedAt)) {
    throw new ApiError('InvalidTimestamp', `X-Date ${c.xDate} is more than ${o.maxClockSkewMs / 60_000} minutes from the server's time`);
  }
  if (c.expiresSec !== undefined && o.now > signedAt + c.expiresSec * 1000) {
    throw new ApiError('InvalidTimestamp', `the signed URL expired ${Math.round((o.now - signedAt) / 1000 - c.expiresSec)} s ago`);
  }
  if (c.scope.date !== c.xDate.slice(0, 8)) {
    throw new ApiError('SignatureDoesNotMatch', 'the date in Credential is not the date of X-Date');
  }
}

/**
 * Checks a request's signature and returns the key pair that signed it. The verifier follows
 * the request's own SignedHeaders, since official SDKs of different languages sign different sets.
 */
export function verifyRequest(req: SignedRequest, o: VerifyOptions): AccessKeyPair {
  const bodyHash = sha256Hex(req.body);
  const query = new Map(req.query.map(([k, v]) => [k, v]));
  const authorization = headerValue(req.headers, 'authorization');
  let c: Credential;
  if (authorization) c = fromAuthorizationHeader(authorization, req.headers, bodyHash);
  else if (query.has('X-Credential')) c = fromQuery(query, bodyHash, req.body.length > 0);
  else throw new ApiError('MissingAuthenticationToken', 'the request is not signed: no Authorization header and no X-Credential query parameter');

  checkScope(c, o);
  checkTime(c, o);
  const pair = o.keys.find(c.accessKey);
  if (!pair) throw new ApiError('InvalidAccessKey', `the access key ${c.accessKey} is not known`);

  const declaredBodyHash = headerValue(req.headers, 'x-content-sha256');
  if (authorization && declaredBodyHash !== undefined && declaredBodyHash.toLowerCase() !== bodyHash) {
    throw new ApiError('SignatureDoesNotMatch', 'X-Content-Sha256 is not the SHA-256 of the body received');
  }
  const headers = new Map<string, string>();
  for (const name of c.signedHeaders) {
    const value = headerValue(req.headers, name);
    if (value === undefined) throw new ApiError('SignatureDoesNotMatch', `the signed header ${name} is not in the request`);
    headers.set(name, value);
  }
  const matches = c.queryForms.some((form) => {
    const canonical = canonicalRequest({ method: req.method, path: req.path, query: form(req.query), headers, signedHeaders: c.signedHeaders, bodyHash: c.bodyHash });
    return signaturesEqual(computeSignature(pair.secretKey, c.xDate, c.scope, canonical), c.signature);
  });
  if (!matches) {
    throw new ApiError('SignatureDoesNotMatch', 'the request signature we calculated does not match the signature you provided; check your secret key and signing method');
  }
  return pair;
}
