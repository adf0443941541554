import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { buildApiServer } from './api/server.js';
import { KeyRing, loadOrCreateGeneratedKey, readKeysFile, type AccessKeyPair, type GeneratedKey } from './api/credentials.js';
import { SqliteTaskStore } from './store/sqlite-task-store.js';
import { DataFolderLock } from './store/data-folder-lock.js';
import { TaskQueue } from './scheduler/task-queue.js';
import { CallbackDispatcher } from './callbacks/dispatcher.js';
import { CallbackEndpoints } from './callbacks/endpoints.js';
import { Metrics } from './metrics.js';
import { TaskService } from './tasks/service.js';
import type { Clock, TaskRunner, TaskStore } from './tasks/ports.js';
import { startWorker, type Worker } from './worker.js';
import { TaskStatus, taskKeyOf } from './tasks/types.js';
import { ResumeGuard } from './tasks/resume-guard.js';
import { consoleRoutes } from './console/routes.js';
import { TokenSigner } from './console/tokens.js';
import { ViewerRegistry } from './console/viewers.js';

/** Where `npm run build` puts the console's front end. */
const CONSOLE_DIR = fileURLToPath(new URL('../dist/console', import.meta.url));

/** Everything one node runs, wired together; `main.ts` only adds the process around it. */
export interface WebcastNode {
  server: FastifyInstance;
  store: TaskStore;
  /** The runner of an API-only node (WEBCAST_WORKER=false). */
  queue: TaskQueue | undefined;
  callbacks: CallbackDispatcher;
  /** The media side of a worker node. */
  worker: Worker | undefined;
  generatedKey: GeneratedKey | undefined;
  close(): Promise<void>;
}

function loadKeys(config: Config): { keys: KeyRing; generatedKey: GeneratedKey | undefined } {
  const pairs: AccessKeyPair[] = [];
  if (config.accessKey && config.secretKey) pairs.push({ accessKey: config.accessKey, secretKey: config.secretKey, appIds: ['*'] });
  if (config.keysFile) pairs.push(...readKeysFile(config.keysFile));
  let generatedKey: GeneratedKey | undefined;
  if (pairs.length === 0) {
    generatedKey = loadOrCreateGeneratedKey(config.dataDir);
    pairs.push(generatedKey.pair);
  }
  return { keys: new KeyRing(pairs), generatedKey };
}

export interface NodeOptions {
  /** The clock of task times (StartTime, EndTime, the 72-hour window); tests move it. */
  taskClock?: Clock | undefined;
}

export async function createNode(config: Config, log: Logger, options: NodeOptions = {}): Promise<WebcastNode> {
  // Every SourceURL with its tokens, the keys and the console's secret are in here: the
  // service's user alone may enter it (the cloud browsers run as another user).
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  chmodSync(config.dataDir, 0o700);
  // Before anything is read, written or started: a second service on this folder starts nothing.
  const lock = DataFolderLock.acquire(config.dataDir);
  // A task store made by an earlier version may be readable by others; its journal files take its mode.
  for (const f of ['webcast.sqlite', 'webcast.sqlite-wal', 'webcast.sqlite-shm', 'service.lock']) {
    const file = path.join(config.dataDir, f);
    if (existsSync(file)) chmodSync(file, 0o600);
  }
  let store: SqliteTaskStore;
  let keys: KeyRing;
  let generatedKey: GeneratedKey | undefined;
  let endpoints: CallbackEndpoints;
  try {
    ({ keys, generatedKey } = loadKeys(config));
    endpoints = CallbackEndpoints.load({ file: config.callbacksFile, url: config.callbackUrl, secret: config.callbackSecret });
    store = new SqliteTaskStore(path.join(config.dataDir, 'webcast.sqlite'));
  } catch (err) {
    lock.release();
    throw err;
  }
  const clock = options.taskClock ?? Date.now;
  const metrics = new Metrics((since) => store.countByStatus(since), clock);
  const callbacks = new CallbackDispatcher(store, endpoints, log.child({ module: 'callbacks' }), Date.now, (result) => metrics.callbackDeliveries.inc({ result }));
  callbacks.start();
  let worker: Worker | undefined;
  let queue: TaskQueue | undefined;
  try {
    if (config.worker) worker = await startWorker(config, store, log, clock, metrics);
    else queue = new TaskQueue(log.child({ module: 'scheduler' }));
  } catch (err) {
    await callbacks.stop();
    await store.close();
    lock.release();
    throw err;
  }
  const runner: TaskRunner = worker?.engine ?? (queue as TaskQueue);
  const tasks = new TaskService(store, runner, clock);

  // Tasks that were active when this node last stopped are this node's again.
  const resumes = new ResumeGuard(store, runner, clock, config.resumeStableMs);
  const active = await store.list({ statuses: [TaskStatus.NotStarted, TaskStatus.Running] });
  const { resumed, failed } = await resumes.resume(active.reverse());
  if (resumed.length > 0) log.info({ resumed: resumed.length }, 'resumed the tasks that were active before the restart');
  for (const task of failed) log.error({ task: taskKeyOf(task), reason: task.StopReason, detail: task.FailureDetail }, 'task failed instead of being resumed');

  const server = await buildApiServer({
    tasks,
    keys,
    log,
    rateLimits: config.rateLimits,
    region: config.region,
    maxClockSkewMs: config.maxClockSkewMs,
    metrics,
    homePath: '/console',
    readiness: async () => ({
      store: await store.list({ limit: 1 }).then(() => true, () => false),
      ...(worker ? await worker.readiness() : {}),
    }),
  });
  const viewers = worker ? new ViewerRegistry(worker.rooms, log.child({ module: 'console' })) : undefined;
  await server.register(consoleRoutes, {
    tasks,
    keys,
    signer: TokenSigner.fromDataDir(config.dataDir),
    viewers,
    thumbnail: worker ? async (key, width) => worker.engine.session(key)?.thumbnail(width) : undefined,
    staticDir: CONSOLE_DIR,
  });
  return {
    server,
    store,
    queue,
    callbacks,
    worker,
    generatedKey,
    async close() {
      await server.close();
      await viewers?.closeAll();
      await worker?.close();
      await resumes.close();
      await callbacks.stop();
      await store.close();
      lock.release();
    },
  };
}
