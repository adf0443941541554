import { after, before } from 'node:test';
import type { RoomBackend } from '../../src/rooms/room-backend.js';
import { printNodeLogsOnFailure } from './failure-logs.js';
import { startTestNode, type TestNode } from './node.js';
import { startPageServer, type PageServer } from './pages.js';
import { Subscriber } from './subscriber.js';

export interface WorkerSuite {
  /** The node, started before the suite's tests (a worker on an embedded Janus). */
  readonly t: TestNode;
  /** The test pages, on loopback, which the node may open. */
  readonly pages: PageServer;
  rooms(): RoomBackend;
  /** A viewer of `userId` in AppId app1's room, who leaves when the suite ends. */
  join(roomId: string, userId: string, layer?: number): Promise<Subscriber>;
}

/** For a describe block: a worker node and the test pages, up before its tests and gone after them. */
export function workerSuite(env: Record<string, string> = {}): WorkerSuite {
  let t: TestNode | undefined;
  let pages: PageServer | undefined;
  const subscribers: Subscriber[] = [];
  before(async () => {
    pages = await startPageServer();
    t = await startTestNode({ env: { WEBCAST_WORKER: 'true', WEBCAST_URL_ALLOWLIST: '127.0.0.1', ...env } });
  });
  printNodeLogsOnFailure(() => t);
  after(async () => {
    await Promise.all(subscribers.map((s) => s.leave().catch(() => undefined)));
    await t?.close();
    await pages?.close();
  });
  const suite: WorkerSuite = {
    get t() {
      if (!t) throw new Error('the suite has not started');
      return t;
    },
    get pages() {
      if (!pages) throw new Error('the suite has not started');
      return pages;
    },
    rooms() {
      const worker = suite.t.node.worker;
      if (!worker) throw new Error('no worker');
      return worker.rooms;
    },
    async join(roomId, userId, layer) {
      const s = await Subscriber.join(suite.rooms(), { appId: 'app1', roomId }, userId, layer);
      subscribers.push(s);
      return s;
    },
  };
  return suite;
}
