import { STATUS_NAMES, type ApiEvent, type ListedTask } from '../../api/wire.js';

/** The console's calls to its service: JSON in the API's envelope, errors with its code and message. */

export class ApiFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'ApiFailure';
  }
}

interface Envelope<T> {
  ResponseMetadata?: { Error?: { Code: string; Message: string } };
  Result?: T;
}

/** A viewer link's token, sent instead of the session cookie. */
let bearer: string | undefined;
export const useViewerToken = (token: string): void => {
  bearer = token;
};

/** Told when a call finds the console session gone (expired, signed out elsewhere). */
let sessionLost: () => void = () => undefined;
export const onSessionLost = (handler: () => void): void => {
  sessionLost = handler;
};

export async function call<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { 'x-webcast-console': '1' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (bearer) headers.authorization = `Bearer ${bearer}`;
  let res: Response;
  try {
    res = await fetch(`/console/api${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  } catch {
    throw new ApiFailure('Unreachable', 'the service does not answer', 0);
  }
  const envelope = (await res.json().catch(() => ({}))) as Envelope<T>;
  const error = envelope.ResponseMetadata?.Error;
  if (error?.Code === 'MissingAuthenticationToken' && !bearer && path !== '/session') sessionLost();
  if (error || !res.ok) throw new ApiFailure(error?.Code ?? `HTTP${res.status}`, error?.Message ?? res.statusText, res.status);
  return envelope.Result as T;
}

/** The failure in a WHEP answer: the API's envelope when the service wrote one, else the status. */
async function whepFailure(res: Response): Promise<ApiFailure> {
  const envelope = (await res.json().catch(() => ({}))) as Envelope<unknown>;
  const error = envelope.ResponseMetadata?.Error;
  return new ApiFailure(error?.Code ?? `HTTP${res.status}`, error?.Message ?? res.statusText, res.status);
}

const whepHeaders = (type?: string): Record<string, string> => ({ ...(type ? { 'content-type': type } : {}), ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) });

/** Opens a WHEP session: our offer in, the answer and the session's resource out. */
export async function whepOffer(url: string, offer: string): Promise<{ resource: string; answer: string }> {
  const res = await fetch(url, { method: 'POST', headers: whepHeaders('application/sdp'), body: offer, credentials: 'same-origin' }).catch(() => undefined);
  if (!res) throw new ApiFailure('Unreachable', 'the service does not answer', 0);
  if (res.status !== 201) throw await whepFailure(res);
  return { resource: new URL(res.headers.get('location') ?? '', location.href).pathname, answer: await res.text() };
}

/** A call on a WHEP session: its layer link (JSON), or DELETE. */
export async function whepCall(method: 'POST' | 'DELETE', url: string, body?: unknown): Promise<void> {
  const res = await fetch(url, { method, headers: whepHeaders(body === undefined ? undefined : 'application/json'), body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  if (!res.ok) throw await whepFailure(res);
}

export const enc = encodeURIComponent;

// The wire shapes are the server's own, so the two cannot drift apart.
export type Task = ListedTask;
export type TaskEvent = ApiEvent;

/** A node of the cluster, as ListWebcastNodes shows it. */
export interface ClusterNode {
  NodeId: string;
  Role: 'worker' | 'api';
  Address: string;
  Capacity: number;
  Running: number;
  Draining: boolean;
  StartedAt: number;
  HeartbeatAt: number;
}

export interface Session {
  AccessKey: string;
  AppIds: string[];
  ExpiresAt: number;
  Media?: boolean;
}

/** The statuses a task can be in, named for people, as the CLI names them. */
export const STATUS: Record<number, string> = Object.fromEntries(
  [1, 2, 3, 4].map((n) => {
    const name = STATUS_NAMES[n] ?? String(n);
    return [n, name.charAt(0).toUpperCase() + name.slice(1)];
  }),
);
