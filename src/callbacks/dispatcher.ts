import type { Logger } from 'pino';
import type { Clock, StoredCallback, TaskStore } from '../tasks/ports.js';
import type { CallbackEndpoints } from './endpoints.js';
import { callbackSignature, type CallbackBody } from './signature.js';

export const CALLBACK_VERSION = '2020-12-01';
const TIMEOUT_MS = 5000;
const MAX_DELIVERIES = 3;
/** Waits before the 2nd and the 3rd delivery. */
const BACKOFF_MS = [1000, 3000];
const POLL_MS = 250;
const BATCH = 16;

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
 */
export class CallbackDispatcher {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly store: TaskStore,
    private readonly endpoints: CallbackEndpoints,
    private readonly log: Logger,
    private readonly clock: Clock = Date.now,
    private readonly onResult: (result: 'delivered' | 'retried' | 'failed' | 'skipped') => void = () => undefined,
  ) {}

  start(): void {
    const tick = (): void => {
      if (this.stopped) return;
      this.running = this.deliverDue()
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
    await this.running;
  }

  /** One round: every task's due callback, in parallel across tasks. */
  async deliverDue(): Promise<void> {
    const due = await this.store.dueCallbacks(this.clock(), BATCH);
    await Promise.all(due.map((cb) => this.deliver(cb)));
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
      const res = await fetch(endpoint.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(callbackBody(cb, endpoint.secret)),
        signal: AbortSignal.timeout(TIMEOUT_MS),
        redirect: 'manual',
      });
      await res.body?.cancel();
      if (res.status === 200) {
        await this.store.recordDelivery(cb.id, { state: 'delivered', at: this.clock() });
        this.onResult('delivered');
        this.log.info({ task, event: cb.event.EventType, eventId: cb.event.EventId, attempt: cb.attempts + 1 }, 'callback delivered');
        return;
      }
      error = `HTTP ${res.status}`;
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
