import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { spawnHelper, unreadableByNobody } from '../../child-user.js';
import type { Subscription } from '../room-backend.js';
import type { FromRelay, RelaySettings, ToRelay } from './relay-protocol.js';

/** Loading the relay (its TypeScript, werift) takes about a second; on a busy node many more. */
const START_TIMEOUT_MS = 30_000;
const OPEN_TIMEOUT_MS = 10_000;
/** The relay's heap: a few hundred viewers' buffers; a leak ends the relay, not the service. */
const RELAY_HEAP_MB = 256;
const RELAY_SCRIPT = fileURLToPath(new URL('./relay-process.ts', import.meta.url));

interface Opening {
  resolve: (answers: { backendAnswer: string; playerAnswer: string }) => void;
  reject: (err: Error) => void;
}

interface Relayed {
  connected: boolean;
  ended: string | undefined;
  onEnded: ((reason: string) => void) | undefined;
}

/**
 * Carries the media of viewers whose players number codecs otherwise than the room backend
 * writes them, in a process of its own (rooms/relay/relay-process.ts): a player's bytes reach
 * JavaScript parsers there, and a crash of that process ends its viewers, not the service. It
 * is started at its first viewer and again after it died.
 */
export class MediaRelay {
  /** The relay process, and whether it said it is ready (rejected if it failed to start). */
  private current: { child: ChildProcess; ready: Promise<void> } | undefined;
  private readonly openings = new Map<string, Opening>();
  private readonly relayed = new Map<string, Relayed>();
  private closed = false;
  private warned = false;

  constructor(
    private readonly log: Logger,
    private readonly settings: RelaySettings,
  ) {}

  /** As root, the relay runs as nobody, which must be able to read its code (a checkout under /root is not). */
  private asNobody(): boolean {
    if (process.getuid?.() !== 0) return false;
    const code = [RELAY_SCRIPT, fileURLToPath(import.meta.resolve('tsx')), fileURLToPath(import.meta.resolve('werift'))];
    const unreadable = unreadableByNobody(code);
    if (unreadable === undefined) return true;
    if (!this.warned) this.log.warn({ file: unreadable }, 'the media relay runs as the service\'s own user: nobody cannot read its code');
    this.warned = true;
    return false;
  }

  private process(): { child: ChildProcess; ready: Promise<void> } {
    if (this.current?.child.connected) return this.current;
    const started = performance.now();
    const child = spawnHelper(RELAY_SCRIPT, { heapMb: RELAY_HEAP_MB, asNobody: this.asNobody(), env: { WEBCAST_RELAY_SETTINGS: JSON.stringify(this.settings) } });
    child.stderr?.on('data', (d: Buffer) => this.log.warn({ output: d.toString('utf8').slice(0, 2000) }, 'the media relay wrote to stderr'));
    child.on('message', (m: FromRelay) => this.received(m));
    child.on('error', (err) => this.log.warn({ err }, 'the media relay failed'));
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`the media relay did not start within ${START_TIMEOUT_MS / 1000} s`));
        child.kill('SIGKILL');
      }, START_TIMEOUT_MS);
      child.on('message', (m: FromRelay) => {
        if (m.type !== 'ready') return;
        clearTimeout(timer);
        this.log.info({ pid: child.pid, ms: Math.round(performance.now() - started) }, 'media relay ready');
        resolve();
      });
      child.once('exit', () => {
        clearTimeout(timer);
        reject(new Error('the media relay stopped while starting'));
      });
    });
    // Each waiting open hears of a failed start; nobody else must.
    ready.catch(() => undefined);
    child.on('exit', (code, signal) => {
      if (this.current?.child === child) this.current = undefined;
      if (this.closed) return;
      this.log.warn({ code, signal, viewers: this.relayed.size }, 'the media relay stopped; its viewers end, the next one starts it again');
      for (const [id, o] of this.openings) {
        this.openings.delete(id);
        o.reject(new Error('the media relay stopped'));
      }
      for (const id of [...this.relayed.keys()]) this.end(id, 'the media relay stopped');
    });
    this.current = { child, ready };
    this.log.info({ pid: child.pid }, 'media relay started');
    return this.current;
  }

  private send(message: ToRelay): void {
    const child = this.current?.child;
    if (child?.connected) child.send(message);
  }

  private received(m: FromRelay): void {
    switch (m.type) {
      case 'opened':
        this.openings.get(m.id)?.resolve(m);
        this.openings.delete(m.id);
        break;
      case 'failed':
        this.openings.get(m.id)?.reject(new Error(m.message));
        this.openings.delete(m.id);
        break;
      case 'connected': {
        const r = this.relayed.get(m.id);
        if (r) r.connected = true;
        break;
      }
      case 'ended':
        this.end(m.id, m.reason);
        break;
    }
  }

  private end(id: string, reason: string): void {
    const r = this.relayed.get(id);
    if (!r || r.ended !== undefined) return;
    r.ended = reason;
    r.onEnded?.(reason);
  }

  /**
   * Relays `backend` (a subscription not yet started) to a player that offered `playerOffer`:
   * the subscription is started with the relay's answer, and what comes back stands for the
   * relayed viewer (its connection is the player's; closing it closes both legs).
   */
  async attach(backend: Subscription, playerOffer: string): Promise<{ subscription: Subscription; answer: string }> {
    if (this.closed) throw new Error('the media relay is closed');
    const id = randomUUID();
    const { child, ready } = this.process();
    await ready;
    if (!child.connected) throw new Error('the media relay stopped');
    const answers = await new Promise<{ backendAnswer: string; playerAnswer: string }>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.openings.delete(id);
        reject(new Error(`the media relay did not answer within ${OPEN_TIMEOUT_MS / 1000} s`));
      }, OPEN_TIMEOUT_MS);
      this.openings.set(id, {
        resolve: (a) => (clearTimeout(timer), resolve(a)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      child.send({ type: 'open', id, backendOffer: backend.offerSdp, playerOffer } satisfies ToRelay);
    });
    const state: Relayed = { connected: false, ended: undefined, onEnded: undefined };
    this.relayed.set(id, state);
    try {
      await backend.start(answers.backendAnswer);
    } catch (err) {
      this.relayed.delete(id);
      this.send({ type: 'close', id });
      throw err;
    }
    backend.onEnded((reason) => this.end(id, reason));
    const close = async (): Promise<void> => {
      this.relayed.delete(id);
      this.send({ type: 'close', id });
      await backend.close();
    };
    const subscription: Subscription = {
      offerSdp: backend.offerSdp,
      userId: backend.userId,
      get connected() {
        return state.connected;
      },
      start: () => Promise.reject(new Error('a relayed viewer is started by its relay')),
      setLayer: (layer) => backend.setLayer(layer),
      trickle: async (candidates, complete) => {
        this.send({ type: 'trickle', id, candidates: candidates.map((c) => c.candidate), complete });
      },
      onEnded: (listener) => {
        state.onEnded = listener;
        if (state.ended !== undefined) listener(state.ended);
      },
      close,
    };
    return { subscription, answer: answers.playerAnswer };
  }

  /** How many viewers it carries now. */
  get size(): number {
    return this.relayed.size;
  }

  close(): void {
    this.closed = true;
    this.current?.child.kill();
    this.current = undefined;
  }
}
