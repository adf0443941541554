import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { RoomRef, Subscription } from '../rooms/room-backend.js';

/** What the console needs of the rooms: who publishes, and a subscription to one of them. */
export interface RoomViewing {
  publishers(room: RoomRef): Promise<{ userId: string }[]>;
  subscribe(room: RoomRef, userId: string, layer?: number): Promise<Subscription>;
}

interface Viewer<T> {
  id: string;
  /** Who opened it (the player's address): one client may hold only so many. */
  client: string;
  room: RoomRef;
  userId: string;
  subscription: Subscription;
  openedAt: number;
  /** What the opener keeps with the viewer (WHEP: the answer's mids and ETag). */
  result: T;
}

export class TooManyViewersError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TooManyViewersError';
  }
}

export interface ViewerLimits {
  /** Viewers on the node, all clients together. */
  max: number;
  /** Viewers of one client (address): a link's holder cannot take every seat. */
  perClient: number;
}

/** A player whose connection did not come up in this long never will (it gave up, or cannot reach us). */
const CONNECT_MS = 30_000;

/**
 * The room's viewers (WHEP players, the console's among them): each a subscription held in the
 * room backend for one player, as long as its connection lives. It closes at the player's
 * DELETE, when the room ends it (the player left, ICE failed, the publisher left), or when it
 * never connected.
 */
export class ViewerRegistry<T = unknown> {
  private readonly viewers = new Map<string, Viewer<T>>();
  /** Opens still on their way, by client: counted against the caps, so that a burst of POSTs cannot pass them. */
  private readonly opening = new Map<string, number>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly rooms: RoomViewing,
    private readonly log: Logger,
    private readonly limits: ViewerLimits = { max: 50, perClient: 10 },
  ) {
    this.sweeper = setInterval(() => this.sweep(), CONNECT_MS / 3);
    this.sweeper.unref();
  }

  publishers(room: RoomRef): Promise<{ userId: string }[]> {
    return this.rooms.publishers(room);
  }

  /**
   * Subscribes to `userId` in the room and hands the subscription to `attach`, which starts it
   * (or wraps it, as a relay does) and says what stands for the viewer from then on.
   */
  async open(
    room: RoomRef,
    userId: string,
    layer: number | undefined,
    client: string,
    attach: (subscription: Subscription) => Promise<{ subscription: Subscription; result: T }>,
  ): Promise<{ id: string; result: T }> {
    const { max, perClient } = this.limits;
    const openingAll = [...this.opening.values()].reduce((a, b) => a + b, 0);
    if (this.viewers.size + openingAll >= max) throw new TooManyViewersError(`this node already serves ${max} viewers; close one first`);
    const ofClient = [...this.viewers.values()].filter((v) => v.client === client).length + (this.opening.get(client) ?? 0);
    if (ofClient >= perClient) throw new TooManyViewersError(`${client} already watches ${perClient} times on this node; close a viewer first`);
    this.opening.set(client, (this.opening.get(client) ?? 0) + 1);
    let attached: { subscription: Subscription; result: T };
    try {
      const backend = await this.rooms.subscribe(room, userId, layer);
      try {
        attached = await attach(backend);
      } catch (err) {
        await backend.close().catch(() => undefined);
        throw err;
      }
    } finally {
      const left = (this.opening.get(client) ?? 1) - 1;
      if (left > 0) this.opening.set(client, left);
      else this.opening.delete(client);
    }
    const { subscription, result } = attached;
    const id = randomUUID();
    this.viewers.set(id, { id, client, room, userId, subscription, openedAt: Date.now(), result });
    subscription.onEnded((reason) => {
      if (!this.viewers.has(id)) return;
      this.log.info({ viewer: id, reason }, 'viewer ended by the room');
      void this.close(id);
    });
    this.log.info({ viewer: id, app: room.appId, room: room.roomId, user: userId }, 'viewer opened');
    return { id, result };
  }

  /** The viewer of that room, and what its opener kept with it; undefined when it is not (or no longer) there. */
  get(id: string, room: RoomRef): { subscription: Subscription; result: T } | undefined {
    const v = this.viewers.get(id);
    if (!v || v.room.appId !== room.appId || v.room.roomId !== room.roomId) return undefined;
    return { subscription: v.subscription, result: v.result };
  }

  async close(id: string): Promise<void> {
    const v = this.viewers.get(id);
    if (!v) return;
    this.viewers.delete(id);
    await v.subscription.close().catch(() => undefined);
    this.log.info({ viewer: id }, 'viewer closed');
  }

  get size(): number {
    return this.viewers.size;
  }

  private sweep(): void {
    const now = Date.now();
    for (const v of this.viewers.values()) if (!v.subscription.connected && now - v.openedAt > CONNECT_MS) void this.close(v.id);
  }

  async closeAll(): Promise<void> {
    clearInterval(this.sweeper);
    await Promise.all([...this.viewers.keys()].map((id) => this.close(id)));
  }
}
