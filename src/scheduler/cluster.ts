import type { Logger } from 'pino';
import { EventType, pageEvent, type TaskEvent } from '../tasks/events.js';
import type { Claim, Clock, ClusterStore, Lease, NodeInfo, StoredCallback, TaskRunner, TaskStore } from '../tasks/ports.js';
import { StopReason, TASK_VISIBILITY_MS, type Task, type TaskKey } from '../tasks/types.js';
import type { Engine } from './engine.js';

const keyOf = (k: TaskKey): string => `${k.AppId}/${k.RoomId}/${k.TaskId}`;
/** How long a drained worker keeps its tasks on air for the workers that take them over. */
export const HAND_OVER_TIMEOUT_MS = 20_000;
/**
 * How long a loaded worker waits for an emptier one to claim an announced task. Longer than a
 * busy 2-core node takes to answer a notification (a 30 ms wait lost that race in CI); the
 * poll and the next announcement claim it anyway if the emptier one does not.
 */
const YIELD_TO_EMPTIER_MS = 300;

export interface ClusterOptions {
  store: ClusterStore;
  nodeId: string;
  address: string;
  /** A worker claims tasks and runs them on the engine it is given (attach); an API-only node does not. */
  worker: boolean;
  /** Tasks this worker puts on air at once. */
  capacity: number;
  /** Tasks the cluster keeps waiting in Status 1 for a free worker before Starts are refused. */
  maxWaiting: number;
  leaseMs: number;
  heartbeatMs: number;
  /** How often a worker looks for tasks when no announcement woke it. */
  pollMs: number;
  log: Logger;
  clock: Clock;
}

/**
 * A node of a cluster on one database. Any node accepts a Start (it writes the task and
 * announces it); workers claim tasks while they have room, hold them by leases their heartbeat
 * renews, and write only while their lease is the task's (the fencing epoch). A worker whose
 * lease ran out (it stalled or died) loses its tasks to the others, which put them back on air.
 */
export class ClusterNode implements TaskRunner {
  private readonly leases = new Map<string, Lease>();
  private waitingKeys: string[] = [];
  private readonly startedAt: number;
  private draining = false;
  private closed = false;
  private timers: NodeJS.Timeout[] = [];
  /** Claims and lease renewals run one at a time: a renewal must not miss a claim in flight. */
  private serial: Promise<unknown> = Promise.resolve();
  private wakeTimer: NodeJS.Timeout | undefined;
  private waking = false;
  private firstClaim = true;
  private engine: Engine | undefined;

  constructor(private readonly o: ClusterOptions) {
    this.startedAt = o.clock();
  }

  /** Where this node's API answers, once it listens (the registry shows it). */
  setAddress(address: string): void {
    this.o.address = address;
  }

  /** The worker's engine, made with fencedStore(). */
  attach(engine: Engine): void {
    this.engine = engine;
    engine.handTasksOffTo((task) => this.handOff(task));
  }

  /** A task this overloaded worker moves off goes back to the cluster, for a worker with room. */
  private handOff(task: TaskKey): Promise<boolean> {
    return this.inTurn(async () => {
      const lease = this.leases.get(keyOf(task));
      if (!lease || this.closed) return false;
      await this.o.store.releaseLease(lease);
      this.leases.delete(keyOf(task));
      await this.o.store.announce({ kind: 'task', key: task });
      this.o.log.info({ task: keyOf(task) }, 'handed an overloaded worker\'s newest task back to the cluster');
      return true;
    });
  }

  /** The store the engine writes through: only while this node holds the task's lease. */
  fencedStore(): TaskStore {
    const { store, nodeId } = this.o;
    const lease = (key: TaskKey): Lease | undefined => this.leases.get(keyOf(key));
    return {
      create: (task, before) => store.create(task, before),
      get: (key) => store.get(key),
      latestInRoom: (a, r, s) => store.latestInRoom(a, r, s),
      list: (f) => store.list(f),
      countByStatus: (s) => store.countByStatus(s),
      update: async (key, change) => {
        const held = lease(key);
        return held && store.updateFenced(held, nodeId, change);
      },
      recordEvent: async (event: TaskEvent) => {
        const held = lease(event);
        if (held) await store.recordEventFenced(held, nodeId, event);
      },
      dueCallbacks: (n, l, p) => store.dueCallbacks(n, l, p),
      recordDelivery: (id, outcome) => store.recordDelivery(id, outcome),
      callbacksOf: (key): Promise<StoredCallback[]> => store.callbacksOf(key),
      noteResume: (key, now) => store.noteResume(key, now),
      resumeSettled: (key) => store.resumeSettled(key),
      resumesInterrupted: () => store.resumesInterrupted(),
      close: () => Promise.resolve(),
    };
  }

  async start(): Promise<void> {
    await this.o.store.listen(this.o.nodeId, (a) => {
      if (a.kind === 'drain') {
        if (a.nodeId === this.o.nodeId) void this.drain().catch((err: unknown) => this.o.log.error({ err }, 'cluster: draining failed'));
      } else if (a.kind === 'task') this.wake();
      else void this.engine?.drop(a.key, 'stopped through another node');
    });
    await this.beat();
    this.every(this.o.heartbeatMs, () => this.beat());
    if (this.o.worker) {
      await this.claim();
      this.every(this.o.pollMs, () => this.claim());
    }
  }

  private every(ms: number, work: () => Promise<void>): void {
    const t = setInterval(() => void work().catch((err: unknown) => this.o.log.warn({ err }, 'cluster: a round failed; the next one tries again')), ms);
    t.unref();
    this.timers.push(t);
  }

  private inTurn<T>(work: () => Promise<T>): Promise<T> {
    const next = this.serial.then(work, work);
    this.serial = next.catch(() => undefined);
    return next;
  }

  private info(): NodeInfo {
    return {
      nodeId: this.o.nodeId,
      role: this.engine ? 'worker' : 'api',
      address: this.o.address,
      capacity: this.engine ? this.o.capacity : 0,
      running: this.engine?.load ?? 0,
      draining: this.draining,
      startedAt: this.startedAt,
      heartbeatAt: this.o.clock(),
    };
  }

  /** Says this node lives, renews its leases, and drops the tasks it no longer holds. */
  private beat(): Promise<void> {
    return this.inTurn(async () => {
      const now = this.o.clock();
      await this.o.store.heartbeat(this.info());
      this.waitingKeys = (await this.o.store.unclaimed(now - TASK_VISIBILITY_MS)).map(keyOf);
      const engine = this.engine;
      if (!engine || this.closed) return;
      const held = await this.o.store.renewLeases(this.o.nodeId, now + this.o.leaseMs);
      const still = new Map(held.map((l) => [keyOf(l.key), l]));
      for (const [key, lease] of this.leases) {
        if (still.get(key)?.epoch === lease.epoch) continue;
        this.leases.delete(key);
        // Ended by this node, stopped through another, or claimed by another after this one stalled.
        if (engine.holds(lease.key)) void engine.drop(lease.key, 'its lease is no longer this node\'s');
      }
    });
  }

  /**
   * Looks for tasks soon: at once, unless a worker with more room is there to take them first.
   * Asked in turn, after a claim already under way: two announcements a moment apart (a burst)
   * would otherwise both be asked while this worker was still empty, and both claimed here.
   */
  private wake(): void {
    if (!this.engine || this.waking) return;
    this.waking = true;
    void this.inTurn(() => this.deferral())
      .then((ms) => new Promise<void>((resolve) => {
        this.wakeTimer = setTimeout(resolve, ms);
      }))
      .then(() => {
        this.wakeTimer = undefined;
        this.waking = false;
        return this.claim();
      })
      .catch((err: unknown) => {
        this.waking = false;
        this.o.log.warn({ err }, 'cluster: claiming failed');
      });
  }

  /**
   * How long this worker lets the others claim first, so that a burst of Starts spreads over
   * the workers: nothing while no live worker is emptier than this one. Asked of the database
   * each time, as a worker that started a moment ago is the emptiest of all and the heartbeats
   * this node has read may not know it yet.
   */
  private async deferral(): Promise<number> {
    const load = this.engine?.load ?? 0;
    if (load === 0) return 0;
    const mine = load / Math.max(1, this.o.capacity);
    const emptier = (await this.nodes()).some((p) => p.nodeId !== this.o.nodeId && p.role === 'worker' && !p.draining && p.capacity > 0 && p.running / p.capacity < mine);
    return emptier ? YIELD_TO_EMPTIER_MS : 0;
  }

  private claim(): Promise<void> {
    return this.inTurn(async () => {
      const engine = this.engine;
      if (!engine || this.draining || this.closed) return;
      // Besides its own count, admission decides: a worker claims only what it would start now.
      const room = this.firstClaim ? this.o.capacity - engine.load : engine.wantsMore() ? 1 : 0;
      if (room <= 0) return;
      const now = this.o.clock();
      // At a restart, all of its own at once; otherwise one a round, and the next round after
      // the emptier workers had their turn (wake): a burst of Starts spreads over the workers.
      const claims = await this.o.store.claim(this.o.nodeId, room, now, now + this.o.leaseMs, this.firstClaim);
      this.firstClaim = false;
      for (const c of claims) await this.take(c);
      if (claims.length > 0 && engine.wantsMore()) this.wake();
    });
  }

  private async take(c: Claim): Promise<void> {
    const engine = this.engine;
    if (!engine) return;
    const key = keyOf(c.task);
    this.leases.set(key, { key: c.task, epoch: c.epoch });
    const log = this.o.log.child({ task: key });
    if (c.previousOwner && c.previousOwner !== this.o.nodeId) {
      const reason = c.handedOver ? StopReason.NodeDrained : StopReason.NodeLost;
      log.info({ from: c.previousOwner, reason }, 'took the task over from another node');
      await this.o.store.recordEventFenced({ key: c.task, epoch: c.epoch }, this.o.nodeId, pageEvent(EventType.Reschedule, c.task, this.o.clock(), reason, { FromNode: c.previousOwner }));
    } else {
      log.info({ resumed: c.previousOwner === this.o.nodeId }, 'claimed the task');
    }
    await engine.submit(c.task);
  }

  // TaskRunner: what the API side of any node asks of the cluster.

  canAccept(): boolean {
    return this.waitingKeys.length < this.o.maxWaiting;
  }

  async submit(task: Task): Promise<void> {
    this.waitingKeys.push(keyOf(task));
    await this.o.store.announce({ kind: 'task', key: task });
    this.wake();
  }

  placeInLine(key: TaskKey): number | undefined {
    const local = this.engine?.placeInLine(key);
    if (local !== undefined) return local;
    const i = this.waitingKeys.indexOf(keyOf(key));
    return i < 0 ? undefined : i + 1;
  }

  async release(task: Task): Promise<void> {
    await this.engine?.drop(task, 'stopped');
    await this.o.store.announce({ kind: 'stop', key: task });
  }

  /** The nodes alive now: a heartbeat within three of their periods. */
  nodes(): Promise<NodeInfo[]> {
    return this.o.store.liveNodes(this.o.clock() - 3 * this.o.heartbeatMs);
  }

  /** Tells the node `nodeId`, wherever it runs, to drain. */
  requestDrain(nodeId: string): Promise<void> {
    return this.o.store.announce({ kind: 'drain', nodeId });
  }

  /** The node that holds a task, from the database. */
  holderOf(key: TaskKey): Promise<string | undefined> {
    return this.o.store.holderOf(key);
  }

  /**
   * Stops claiming and, with another live worker in the cluster, gives every task up so that
   * it claims them at once. Returns whether it handed them over.
   */
  private async giveUp(): Promise<boolean> {
    this.draining = true;
    clearTimeout(this.wakeTimer);
    return this.inTurn(async () => {
      const others = (await this.nodes()).filter((p) => p.role === 'worker' && p.nodeId !== this.o.nodeId && !p.draining);
      await this.o.store.heartbeat(this.info());
      if (others.length === 0 || this.leases.size === 0) return false;
      await Promise.all([...this.leases.values()].map((l) => this.o.store.releaseLease(l)));
      this.o.log.info({ tasks: this.leases.size, to: others.map((p) => p.nodeId) }, 'handed this node\'s tasks over to the other workers');
      this.leases.clear();
      await this.o.store.announce({ kind: 'task', key: { AppId: '', RoomId: '', TaskId: '' } });
      return true;
    });
  }

  /**
   * A drain while the node stays up (the operator's command): it claims nothing more, hands its
   * tasks over, keeps them on air until their new node replaces them in the room, and then
   * runs nothing; the heartbeat goes on, saying it drains.
   */
  async drain(): Promise<void> {
    if (this.draining) return;
    this.o.log.info('draining: claiming nothing more');
    if ((await this.giveUp()) && this.engine) await this.engine.handOver(HAND_OVER_TIMEOUT_MS);
  }

  /**
   * At shutdown: like a drain, but alone in the cluster it keeps its tasks, to resume them at
   * its next start. Returns whether it handed them over: the engine should then keep them on
   * air until their new node replaces them in the room (Engine.handOver).
   */
  async close(): Promise<boolean> {
    const handedOver = await this.giveUp();
    await this.inTurn(async () => {
      this.closed = true;
    });
    for (const t of this.timers) clearInterval(t);
    return handedOver;
  }
}
