import { signRequest } from '../api/signature.js';

/** Where the service is and who calls it. */
export interface Connection {
  endpoint: string;
  accessKey: string;
  secretKey: string;
  /** The region requests are signed for: the service's WEBCAST_REGION. */
  region: string;
  version: string;
}

/** The service answered with its error envelope. */
export class ApiCallError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly requestId: string,
    readonly httpStatus: number,
  ) {
    super(message);
    this.name = 'ApiCallError';
  }
}

/** The service could not be reached, or did not answer as the API does. */
export class UnreachableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnreachableError';
  }
}

interface Envelope {
  ResponseMetadata?: { RequestId?: string; Error?: { Code?: string; Message?: string } };
  Result?: unknown;
}

const TIMEOUT_MS = 15_000;

/** One signed OpenAPI call; GET actions carry their parameters in the query, POST ones in a JSON body. */
export async function callApi(c: Connection, action: string, method: 'GET' | 'POST', params: Record<string, unknown>): Promise<unknown> {
  let url: URL;
  try {
    url = new URL(c.endpoint);
  } catch {
    throw new UnreachableError(`the endpoint "${c.endpoint}" is not a URL`);
  }
  url.pathname = '/';
  url.searchParams.set('Action', action);
  url.searchParams.set('Version', c.version);
  let body: string | undefined;
  if (method === 'GET') {
    for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.set(k, String(v));
  } else {
    body = JSON.stringify(params);
  }
  const headers = signRequest({ method, url, body, accessKey: c.accessKey, secretKey: c.secretKey, region: c.region, headers: method === 'POST' ? { 'Content-Type': 'application/json' } : {} });
  let res: Response;
  try {
    res = await fetch(url, { method, headers, body, signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new UnreachableError(`cannot reach ${url.origin}: ${cause?.code ?? cause?.message ?? (err as Error).message}`);
  }
  let envelope: Envelope;
  try {
    envelope = (await res.json()) as Envelope;
  } catch {
    throw new UnreachableError(`${url.origin} answered HTTP ${res.status} without the API's JSON envelope; is it a webcast service?`);
  }
  const error = envelope.ResponseMetadata?.Error;
  if (error) throw new ApiCallError(error.Code ?? 'UnknownError', error.Message ?? '', envelope.ResponseMetadata?.RequestId ?? '', res.status);
  return envelope.Result;
}
