import type { TaskEvent } from './events.js';
import type { Task, TaskKey, TaskStatus } from './types.js';

/**
 * What the task core needs from the outside world. The store and the scheduler implement
 * these; the core never imports them, so the dependencies point one way.
 */

export type CreateOutcome = { created: true; task: Task } | { created: false; existing: Task };

export interface TaskFilter {
  AppId?: string;
  RoomId?: string;
  statuses?: readonly TaskStatus[];
  /** Only tasks with StartTime at or after this Unix ms. */
  startedSince?: number;
  limit?: number;
}

export interface TaskStore {
  /**
   * Inserts the task unless its key is taken. A finished task whose StartTime is before
   * `reusableBefore` no longer holds its key and is replaced. Atomic.
   */
  create(task: Task, reusableBefore: number): Promise<CreateOutcome>;
  get(key: TaskKey): Promise<Task | undefined>;
  /** The room's most recently started task since `startedSince`. */
  latestInRoom(appId: string, roomId: string, startedSince: number): Promise<Task | undefined>;
  list(filter: TaskFilter): Promise<Task[]>;
  /** How many tasks started since `startedSince` are in each status. */
  countByStatus(startedSince: number): Promise<Map<TaskStatus, number>>;
  /**
   * Reads the task, applies `change` and writes the result, all in one transaction, so
   * concurrent changes of one task are serialised; the callbacks the change makes (see
   * events.ts) are queued in the same transaction. `change` returning undefined writes nothing.
   */
  update(key: TaskKey, change: (task: Task) => Task | undefined): Promise<Task | undefined>;
  /** Queues a callback that reports no change of the task itself (a refresh, say). */
  recordEvent(event: TaskEvent): Promise<void>;
  /**
   * The oldest undelivered callback of each task that is due, oldest first, at most `perApp`
   * of each AppId (so that one customer's backlog cannot fill the batch) and `limit` in all.
   */
  dueCallbacks(now: number, limit: number, perApp: number): Promise<StoredCallback[]>;
  /** Records one delivery attempt's outcome. */
  recordDelivery(id: number, outcome: DeliveryOutcome): Promise<void>;
  /** Every callback of a task, in order, with its delivery state. */
  callbacksOf(key: TaskKey): Promise<StoredCallback[]>;
  /**
   * Notes that this start resumes the task, and returns how many starts in a row before this
   * one resumed it and then died before calling `resumeSettled` or `resumesInterrupted`.
   */
  noteResume(key: TaskKey, now: number): Promise<number>;
  /** The task outlived its resume by long enough: its count starts again. */
  resumeSettled(key: TaskKey): Promise<void>;
  /** A clean shutdown: the resumes in progress did not end in a death. */
  resumesInterrupted(): Promise<void>;
  close(): Promise<void>;
}

export type CallbackState = 'pending' | 'delivered' | 'failed' | 'skipped';

export interface StoredCallback {
  id: number;
  event: TaskEvent;
  state: CallbackState;
  attempts: number;
  nextAttemptAt: number;
  lastError: string;
}

export type DeliveryOutcome =
  | { state: 'delivered'; at: number }
  | { state: 'retry'; error: string; nextAttemptAt: number }
  | { state: 'failed' | 'skipped'; error: string };

/** Whatever runs tasks. Told of every new task and of every stop; it owns the media side. */
export interface TaskRunner {
  /** False when the node's tasks and its waiting line are both full. */
  canAccept(): boolean;
  submit(task: Task): Promise<void>;
  /** Where a task waiting for a free slot stands in line (1 = next), or undefined when it does not wait. */
  placeInLine(key: TaskKey): number | undefined;
  /** The task has already been moved to its final status; release what runs it. */
  release(task: Task): Promise<void>;
}

export type Clock = () => number;

/** A node of a cluster, as it registers itself and as the others see it. */
export interface NodeInfo {
  nodeId: string;
  role: 'worker' | 'api';
  /** Where its API answers. */
  address: string;
  /** Tasks it may run at once (0 for an API-only node). */
  capacity: number;
  /** Tasks it runs now. */
  running: number;
  draining: boolean;
  startedAt: number;
  heartbeatAt: number;
}

/** A task a worker holds, with the epoch of its claim: every write it makes must carry it. */
export interface Lease {
  key: TaskKey;
  epoch: number;
}

export interface Claim {
  task: Task;
  epoch: number;
  /** The node that held it before ('' = nobody: a new task). */
  previousOwner: string;
  /** Whether that node gave it up (a drain) rather than let its lease run out. */
  handedOver: boolean;
}

/** What one node tells the others: a task is new (an empty key: look for work), was stopped, or a node is to drain. */
export type Announcement = { kind: 'task' | 'stop'; key: TaskKey } | { kind: 'drain'; nodeId: string };

/** The task store of a cluster: what nodes sharing one database need beyond the TaskStore. */
export interface ClusterStore extends TaskStore {
  /** Registers or refreshes this node. */
  heartbeat(node: NodeInfo): Promise<void>;
  /** Every node seen within `since`. */
  liveNodes(since: number): Promise<NodeInfo[]>;
  /**
   * Takes up to `limit` active tasks nobody holds (new, or whose lease ran out), oldest first,
   * and, with `reclaimOwn`, this node's own (it restarted); each gets a new epoch and a lease until `leaseUntil`.
   * Tasks another node is claiming at the same moment are skipped, not waited for.
   */
  claim(nodeId: string, limit: number, now: number, leaseUntil: number, reclaimOwn: boolean): Promise<Claim[]>;
  /** Extends this node's leases of its active tasks and returns them: a task missing here is no longer this node's to run. */
  renewLeases(nodeId: string, leaseUntil: number): Promise<Lease[]>;
  /** Gives a task up (a drain), so that another worker claims it at once. */
  releaseLease(lease: Lease): Promise<void>;
  /** The node that holds an active task, if any. */
  holderOf(key: TaskKey): Promise<string | undefined>;
  /** Active tasks that no node holds yet, oldest first. */
  unclaimed(since: number): Promise<TaskKey[]>;
  /** Like `update` and `recordEvent`, but only while `lease` is still the task's: otherwise nothing is written and the result is undefined / false. */
  updateFenced(lease: Lease, nodeId: string, change: (task: Task) => Task | undefined): Promise<Task | undefined>;
  recordEventFenced(lease: Lease, nodeId: string, event: TaskEvent): Promise<boolean>;
  /** Tells every node. */
  announce(a: Announcement): Promise<void>;
  /** Calls `on` for every announcement, from any node; while it listens, this node counts as alive. */
  listen(nodeId: string, on: (a: Announcement) => void): Promise<void>;
}
