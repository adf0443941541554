import http from 'node:http';
import https from 'node:https';
import type { Logger } from 'pino';
import { NameLookup } from '../name-lookup.js';
import type { Clock, StoredCallback, TaskStore } from '../tasks/ports.js';
import type { CallbackEndpoints } from './endpoints.js';
import { callbackSignature, type CallbackBody } from './signature.js';

export const CALLBACK_VERSION = '2020-12-01';
const TIMEOUT_MS = 5000;
const MAX_DELIVERIES = 3;
/** Waits before the 2nd and the 3rd delivery. */
const BACKOFF_MS = [1000, 3000];
const POLL_MS = 250;
/** Rows read per poll, and at most this many of one AppId among them. */
const BATCH = 256;
const PER_APP = 16;
/** Deliveries in flight at once: to one endpoint, and in all. */
const PER_ENDPOINT = 4;
const IN_FLIGHT = 64;

export function callbackBody(cb: StoredCallback, secret: string): CallbackBody {
  const unsigned = {
    EventType: cb.event.EventType,
    EventData: JSON.stringify(cb.event.EventData),
    EventTime: cb.event.EventTime,
    EventId: cb.event.EventId,
    AppId: cb.event.AppId,
    Version: CALLBACK_VERSION,
    Nonce: cb.event.Nonce,
  };
  return { ...unsigned, Signature: callbackSignature(unsigned, secret) };
}

/**
 * Delivers the outbox: at least once, in order per task, up to three deliveries 1 s and 3 s
 * apart, each given 5 s for an HTTP 200. Everything it needs is in the store, so a restart
 * picks up where the last process stopped.
 *
 * Each endpoint has its own pace: a poll starts what is due without waiting for what is still
 * in flight, and at most PER_ENDPOINT deliveries go to one endpoint at once, so an endpoint
 * that hangs holds up its own callbacks and nobody else's.
 */
export class CallbackDispatcher {
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private stopped = false;
  /** Callback ids being delivered, and how many deliveries each endpoint URL has in flight. */
  private readonly inFlight = new Map<number, Promise<void>>();
  private readonly perEndpoint = new Map<string, number>();

  constructor(
    private readonly store: TaskStore,
    private readonly endpoints: CallbackEndpoints,
    private readonly log: Logger,
    private readonly clock: Clock = Date.now,
    private readonly onResult: (result: 'delivered' | 'retried' | 'failed' | 'skipped') => void = () => undefined,
    private readonly names: NameLookup = new NameLookup(),
  ) {}

  start(): void {
    const tick = (): void => {
      if (this.stopped) return;
      this.polling = this.startDue()
        .catch((err: unknown) => this.log.error({ err }, 'callback delivery round failed'))
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(tick, POLL_MS);
        });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.polling;
    await Promise.all(this.inFlight.values());
  }

  /** Starts every due callback that is not in flight, within the limits; does not wait for them. */
  async startDue(): Promise<void> {
    const due = await this.store.dueCallbacks(this.clock(), BATCH, PER_APP);
    for (const cb of due) {
      if (this.inFlight.size >= IN_FLIGHT) return;
      if (this.inFlight.has(cb.id)) continue;
      const url = this.endpoints.for(cb.event.AppId)?.url ?? '';
      const busy = this.perEndpoint.get(url) ?? 0;
      if (url && busy >= PER_ENDPOINT) continue;
      this.perEndpoint.set(url, busy + 1);
      const delivery = this.deliver(cb)
        .catch((err: unknown) => this.log.error({ err, eventId: cb.event.EventId }, 'callback delivery failed'))
        .finally(() => {
          this.inFlight.delete(cb.id);
          const left = (this.perEndpoint.get(url) ?? 1) - 1;
          if (left > 0) this.perEndpoint.set(url, left);
          else this.perEndpoint.delete(url);
        });
      this.inFlight.set(cb.id, delivery);
    }
  }

  private async deliver(cb: StoredCallback): Promise<void> {
    const endpoint = this.endpoints.for(cb.event.AppId);
    const task = `${cb.event.AppId}/${cb.event.RoomId}/${cb.event.TaskId}`;
    if (!endpoint) {
      await this.store.recordDelivery(cb.id, { state: 'skipped', error: `no callback URL for AppId ${cb.event.AppId}` });
      this.onResult('skipped');
      return;
    }
    let error: string;
    try {
      const status = await postJson(endpoint.url, JSON.stringify(callbackBody(cb, endpoint.secret)), this.names);
      if (status === 200) {
        await this.store.recordDelivery(cb.id, { state: 'delivered', at: this.clock() });
        this.onResult('delivered');
        this.log.info({ task, event: cb.event.EventType, eventId: cb.event.EventId, attempt: cb.attempts + 1 }, 'callback delivered');
        return;
      }
      error = `HTTP ${status}`;
    } catch (err) {
      error = (err as Error).name === 'TimeoutError' ? `no answer within ${TIMEOUT_MS / 1000} s` : (err as Error).message;
    }
    const attempt = cb.attempts + 1;
    if (attempt >= MAX_DELIVERIES) {
      await this.store.recordDelivery(cb.id, { state: 'failed', error });
      this.onResult('failed');
      this.log.error({ task, event: cb.event.EventType, eventId: cb.event.EventId, attempts: attempt, error }, 'callback not delivered; giving up');
      return;
    }
    const wait = BACKOFF_MS[attempt - 1] ?? BACKOFF_MS.at(-1) ?? 1000;
    await this.store.recordDelivery(cb.id, { state: 'retry', error, nextAttemptAt: this.clock() + wait });
    this.onResult('retried');
    this.log.warn({ task, event: cb.event.EventType, eventId: cb.event.EventId, attempt, error, retryInMs: wait }, 'callback delivery failed; will retry');
  }
}

/**
 * POSTs the body and resolves with the answer's status (no redirect followed), or rejects with
 * why not: a TimeoutError after TIMEOUT_MS, the lookup's or the connection's error otherwise.
 * The endpoint's name is looked up by `names`, off libuv's threads (name-lookup.ts): fetch()
 * would use dns.lookup, and one endpoint whose DNS hangs, with its PER_ENDPOINT deliveries in
 * flight, would hold all four threads and every file the node opens.
 */
function postJson(url: string, body: string, names: NameLookup): Promise<number> {
  const target = new URL(url);
  const request = target.protocol === 'https:' ? https.request : http.request;
  return new Promise((resolve, reject) => {
    const req = request(
      target,
      { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }, lookup: names.lookup, signal: AbortSignal.timeout(TIMEOUT_MS) },
      (res) => {
        // Only the status counts: the answer's body is not read (fetch's body.cancel() before).
        res.on('error', () => undefined);
        res.destroy();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', (err: Error) => reject(err.name === 'AbortError' && err.cause instanceof Error ? err.cause : err));
    req.end(body);
  });
}
