import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { RoomRef, Subscription } from '../rooms/room-backend.js';

/** What the console needs of the rooms: who publishes, and a subscription to one of them. */
export interface RoomViewing {
  publishers(room: RoomRef): Promise<{ userId: string }[]>;
  subscribe(room: RoomRef, userId: string, layer?: number): Promise<Subscription>;
}

/**
 * What keeps a viewer open: the console's page asks every few seconds (keepalive), while a WHEP
 * player has no way to, so its viewer lives as long as its connection (connection).
 */
export type ViewerHold = 'keepalive' | 'connection';

interface Viewer {
  id: string;
  room: RoomRef;
  userId: string;
  subscription: Subscription;
  hold: ViewerHold;
  openedAt: number;
  lastSeen: number;
  onClose: (() => void) | undefined;
}

export class TooManyViewersError extends Error {
  constructor(max: number) {
    super(`this node already serves ${max} viewers; close one first`);
    this.name = 'TooManyViewersError';
  }
}

/** A viewer whose page stopped asking for this long is gone (the tab closed, the laptop slept). */
const IDLE_MS = 30_000;
/** A player whose connection did not come up in this long never will (it gave up, or cannot reach us). */
const CONNECT_MS = 30_000;

/**
 * The room viewers of console pages: each a subscription held in the room backend for a
 * browser, closed when the browser says so or stops keeping it alive.
 */
export class ViewerRegistry {
  private readonly viewers = new Map<string, Viewer>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly rooms: RoomViewing,
    private readonly log: Logger,
    private readonly max = 50,
  ) {
    this.sweeper = setInterval(() => this.sweep(), IDLE_MS / 3);
    this.sweeper.unref();
  }

  publishers(room: RoomRef): Promise<{ userId: string }[]> {
    return this.rooms.publishers(room);
  }

  async open(room: RoomRef, userId: string, layer: number | undefined, hold: ViewerHold = 'keepalive', onClose?: () => void): Promise<{ id: string; subscription: Subscription }> {
    if (this.viewers.size >= this.max) throw new TooManyViewersError(this.max);
    const subscription = await this.rooms.subscribe(room, userId, layer);
    const id = randomUUID();
    const now = Date.now();
    this.viewers.set(id, { id, room, userId, subscription, hold, openedAt: now, lastSeen: now, onClose });
    subscription.onEnded((reason) => {
      if (!this.viewers.has(id)) return;
      this.log.info({ viewer: id, reason }, 'viewer ended by the room');
      void this.close(id);
    });
    this.log.info({ viewer: id, app: room.appId, room: room.roomId, user: userId, hold }, 'viewer opened');
    return { id, subscription };
  }

  /** The viewer of that room, kept alive by this call; undefined when it is not (or no longer) there. */
  get(id: string, room: RoomRef): Subscription | undefined {
    const v = this.viewers.get(id);
    if (!v || v.room.appId !== room.appId || v.room.roomId !== room.roomId) return undefined;
    v.lastSeen = Date.now();
    return v.subscription;
  }

  async close(id: string): Promise<void> {
    const v = this.viewers.get(id);
    if (!v) return;
    this.viewers.delete(id);
    v.onClose?.();
    await v.subscription.close().catch(() => undefined);
    this.log.info({ viewer: id }, 'viewer closed');
  }

  get size(): number {
    return this.viewers.size;
  }

  private sweep(): void {
    const now = Date.now();
    for (const v of this.viewers.values()) {
      const gone = v.hold === 'keepalive' ? now - v.lastSeen > IDLE_MS : !v.subscription.connected && now - v.openedAt > CONNECT_MS;
      if (gone) void this.close(v.id);
    }
  }

  async closeAll(): Promise<void> {
    clearInterval(this.sweeper);
    await Promise.all([...this.viewers.keys()].map((id) => this.close(id)));
  }
}
