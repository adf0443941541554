import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { HAND_OVER_TIMEOUT_MS } from '../../src/scheduler/cluster.js';
import { EmbeddedJanus } from '../../src/rooms/janus/embedded-janus.js';
import { JanusRoomBackend } from '../../src/rooms/janus/janus-rooms.js';
import { ACCESS_KEY, SECRET_KEY } from './node.js';
import { startPostgres, type TestPostgres } from './postgres.js';
import { spawnService, type ServiceProcess } from './process.js';
import { Subscriber } from './subscriber.js';

/**
 * The shared parts of a cluster for tests and the bench: a real PostgreSQL, one Janus (with
 * its API secret) and a connection to it for viewers; workers as service processes of their
 * own, so that one can be killed.
 */
export interface TestCluster {
  pg: TestPostgres;
  janus: EmbeddedJanus;
  rooms: JanusRoomBackend;
  /** What every node of this cluster needs in its environment. */
  env: Record<string, string>;
  workers: TestWorker[];
  startWorker(maxTasks: number, env?: Record<string, string>): Promise<TestWorker>;
  /** Starts a worker that has exited (a SIGKILL, say) again on its data folder and browser uids, as a deployment's restart would. */
  restartWorker(w: TestWorker): Promise<TestWorker>;
  /** The node that holds the task, from the database. */
  ownerOf(TaskId: string): Promise<string | undefined>;
  /** A viewer of the room's UserId; left at close(). */
  watch(appId: string, roomId: string, userId: string): Promise<Subscriber>;
  /** Joins again and again until a viewer decodes frames; returns the ms since `since`. */
  framesAgain(appId: string, roomId: string, userId: string, since: number, timeoutMs?: number): Promise<number>;
  close(): Promise<void>;
}

export interface TestWorker {
  svc: ServiceProcess;
  dataDir: string;
  nodeId: string;
  /** How it was started, for a restart on the same folder and uids. */
  env: Record<string, string>;
}

export async function startCluster(env: Record<string, string> = {}): Promise<TestCluster> {
  const pg = await startPostgres();
  const janusDir = mkdtempSync(path.join(tmpdir(), 'webcast-janus-'));
  const janus = new EmbeddedJanus({ dataDir: janusDir, log: pino({ level: 'silent' }) });
  await janus.start();
  const rooms = await JanusRoomBackend.connect(janus.urls.wsUrl, pino({ level: 'silent' }), janus.apiSecret);
  const clusterEnv = { WEBCAST_DATABASE_URL: pg.url, WEBCAST_JANUS_URL: janus.urls.wsUrl, WEBCAST_JANUS_API_SECRET: janus.apiSecret, ...env };
  const workers: TestWorker[] = [];
  const subscribers: Subscriber[] = [];
  const watch = async (appId: string, roomId: string, userId: string) => {
    const s = await Subscriber.join(rooms, { appId, roomId }, userId);
    subscribers.push(s);
    return s;
  };
  return {
    pg,
    janus,
    rooms,
    env: clusterEnv,
    workers,
    async startWorker(maxTasks, extra = {}) {
      const dataDir = mkdtempSync(path.join(tmpdir(), 'webcast-worker-'));
      // Workers on one machine must not share browser uids: a range of their own each, inside
      // the default range, which no other test gives to anything but browsers.
      const first = 2_000_900_000 + workers.length * 10_000;
      const env = { ...clusterEnv, WEBCAST_DATA_DIR: dataDir, WEBCAST_WORKER: 'true', WEBCAST_ADMISSION: 'count', WEBCAST_MAX_TASKS: String(maxTasks), WEBCAST_ACCESS_KEY: ACCESS_KEY, WEBCAST_SECRET_KEY: SECRET_KEY, WEBCAST_BROWSER_UIDS: `${first}-${first + 9_999}`, ...extra };
      const w = { svc: await spawnService(env, 60_000), dataDir, nodeId: readFileSync(path.join(dataDir, 'node-id'), 'utf8').trim(), env };
      workers.push(w);
      return w;
    },
    async restartWorker(w) {
      if (w.svc.child.exitCode === null && w.svc.child.signalCode === null) throw new Error(`worker ${w.nodeId} still runs`);
      w.svc = await spawnService(w.env, 60_000);
      return w;
    },
    ownerOf: async (TaskId) => (await pg.query<{ owner: string }>('SELECT owner FROM tasks WHERE task_id = $1', [TaskId]))[0]?.owner,
    watch,
    async framesAgain(appId, roomId, userId, since, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (Date.now() > deadline) throw new Error(`no frames in ${roomId} within ${timeoutMs} ms`);
        try {
          const s = await watch(appId, roomId, userId);
          await s.waitForVideo((x) => x.framesDecoded > 0, 3000);
          return Date.now() - since;
        } catch {
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    },
    async close() {
      await Promise.all(subscribers.map((s) => s.leave().catch(() => undefined)));
      // A clean stop, which takes each worker's firewall rules, folders and cgroups away; a kill
      // if it hangs. A worker that still has tasks hands them over and waits for a successor
      // that, with every worker stopping, never comes: stop the tasks first to spare that wait.
      await Promise.all(workers.map(async (w) => {
        const kill = setTimeout(() => w.svc.child.kill('SIGKILL'), HAND_OVER_TIMEOUT_MS + 10_000);
        await w.svc.stop('SIGTERM');
        clearTimeout(kill);
      }));
      for (const w of workers) rmSync(w.dataDir, { recursive: true, force: true });
      await rooms.close();
      await janus.stop();
      rmSync(janusDir, { recursive: true, force: true });
      await pg.stop();
    },
  };
}
