import { startTestNode, type TestNode } from './node.js';
import { startPageServer, type PageServer } from './pages.js';
import { CallbackReceiver } from './receiver.js';

/** A worker node that may open the loopback test pages, and a receiver of its callbacks. */
export interface EngineSetup {
  t: TestNode;
  pages: PageServer;
  receiver: CallbackReceiver;
  secret: string;
  /** Each callback of a task as [EventType, Status, Reason or StopReason]. */
  eventsOf(TaskId: string): unknown[][];
  close(): Promise<void>;
}

export async function startEngineNode(env: Record<string, string> = {}): Promise<EngineSetup> {
  const pages = await startPageServer();
  const receiver = new CallbackReceiver();
  const secret = 'engine-test-callback-secret';
  const t = await startTestNode({
    env: { WEBCAST_WORKER: 'true', WEBCAST_URL_ALLOWLIST: '127.0.0.1', WEBCAST_CALLBACK_URL: await receiver.listen(), WEBCAST_CALLBACK_SECRET: secret, ...env },
  });
  return {
    t,
    pages,
    receiver,
    secret,
    eventsOf: (TaskId) => receiver.events().filter((e) => e.data.TaskId === TaskId).map((e) => [e.EventType, e.data.Status, e.data.Reason ?? e.data.StopReason ?? '']),
    async close() {
      await t.close();
      await receiver.close();
      await pages.close();
    },
  };
}
