import { randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { buildApiServer, type NodeDirectory } from './api/server.js';
import { ApiError } from './api/errors.js';
import { KeyRing, loadOrCreateGeneratedKey, readKeysFile, type AccessKeyPair, type GeneratedKey } from './api/credentials.js';
import { SqliteTaskStore } from './store/sqlite-task-store.js';
import { PostgresTaskStore } from './store/postgres-task-store.js';
import { ClusterNode, HAND_OVER_TIMEOUT_MS } from './scheduler/cluster.js';
import { DataFolderLock } from './store/data-folder-lock.js';
import { TaskQueue } from './scheduler/task-queue.js';
import { CallbackDispatcher } from './callbacks/dispatcher.js';
import { CallbackEndpoints } from './callbacks/endpoints.js';
import { Metrics } from './metrics.js';
import { TaskService } from './tasks/service.js';
import type { Clock, TaskRunner, TaskStore } from './tasks/ports.js';
import type { Worker } from './worker.js';
import { TaskStatus, taskKeyOf } from './tasks/types.js';
import { ResumeGuard } from './tasks/resume-guard.js';
import { consoleRoutes } from './console/routes.js';
import { TokenSigner } from './console/tokens.js';
import { ViewerRegistry } from './console/viewers.js';
import type { Session as WhepSession } from './console/whep.js';
import { MediaRelay } from './rooms/relay/media-relay.js';
import { readableByEveryone, secretFiles } from './secret-files.js';

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
  /** This node's part in a cluster (WEBCAST_DATABASE_URL). */
  cluster: ClusterNode | undefined;
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

/** A node's name in its cluster, kept in its data folder so that it is the same after a restart. */
function nodeIdOf(dataDir: string): string {
  const file = path.join(dataDir, 'node-id');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const id = randomUUID();
  writeFileSync(file, `${id}\n`, { mode: 0o600 });
  return id;
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
  let store: SqliteTaskStore | PostgresTaskStore;
  const nodeId = nodeIdOf(config.dataDir);
  let keys: KeyRing;
  let generatedKey: GeneratedKey | undefined;
  let endpoints: CallbackEndpoints;
  try {
    ({ keys, generatedKey } = loadKeys(config));
    endpoints = CallbackEndpoints.load({ file: config.callbacksFile, url: config.callbackUrl, secret: config.callbackSecret });
    store = config.databaseUrl ? await PostgresTaskStore.open({ url: config.databaseUrl, nodeId }) : new SqliteTaskStore(path.join(config.dataDir, 'webcast.sqlite'));
  } catch (err) {
    lock.release();
    throw err;
  }
  for (const { setting, file } of readableByEveryone(secretFiles(config))) {
    log.warn({ setting, file }, 'this file of secrets is readable by every user of the machine: chmod 600 it');
  }
  const clock = options.taskClock ?? Date.now;
  const startedAt = Date.now();
  const metrics = new Metrics((since) => store.countByStatus(since), clock);
  const callbacks = new CallbackDispatcher(store, endpoints, log.child({ module: 'callbacks' }), Date.now, (result) => metrics.callbackDeliveries.inc({ result }));
  callbacks.start();
  let worker: Worker | undefined;
  let queue: TaskQueue | undefined;
  // Several nodes feed one Prometheus: each series says which node it is from.
  metrics.registry.setDefaultLabels({ node: nodeId });
  const cluster =
    store instanceof PostgresTaskStore
      ? new ClusterNode({
          store,
          nodeId,
          address: `${config.host}:${config.port}`,
          worker: config.worker,
          capacity: config.maxTasks,
          maxWaiting: config.queueSize,
          leaseMs: config.leaseMs,
          heartbeatMs: Math.min(2000, config.leaseMs / 4),
          pollMs: 1000,
          log: log.child({ module: 'cluster' }),
          clock,
        })
      : undefined;
  try {
    if (config.worker) {
      // Loaded only here: an API-only node needs nothing of Chromium, Janus or Playwright (about 1 s of its start).
      const { startWorker } = await import('./worker.js');
      worker = await startWorker(config, cluster?.fencedStore() ?? store, log, clock, metrics);
    }
    else if (!cluster) queue = new TaskQueue(log.child({ module: 'scheduler' }));
    if (cluster && worker) cluster.attach(worker.engine);
    await cluster?.start();
  } catch (err) {
    // The start failed already: its cause is the error to report, not a failing hand-over.
    await cluster?.close().catch(() => undefined);
    await worker?.close();
    await callbacks.stop();
    await store.close();
    lock.release();
    throw err;
  }
  const runner: TaskRunner = cluster ?? worker?.engine ?? (queue as TaskQueue);
  const tasks = new TaskService(store, runner, clock);

  // Tasks that were active when this node last stopped are this node's again. In a cluster
  // they are whoever claims them: this node reclaims its own at its first claim.
  const resumes = new ResumeGuard(store, runner, clock, config.resumeStableMs);
  if (!cluster) {
    const active = await store.list({ statuses: [TaskStatus.NotStarted, TaskStatus.Running] });
    const { resumed, failed } = await resumes.resume(active.reverse());
    if (resumed.length > 0) log.info({ resumed: resumed.length }, 'resumed the tasks that were active before the restart');
    for (const task of failed) log.error({ task: taskKeyOf(task), reason: task.StopReason, detail: task.FailureDetail }, 'task failed instead of being resumed');
  }

  const nodes: NodeDirectory = {
    list: async () =>
      (await cluster?.nodes()) ?? [{ nodeId, role: worker ? 'worker' : 'api', address: `${config.host}:${config.port}`, capacity: worker ? config.maxTasks : 0, running: worker?.engine.load ?? 0, draining: false, startedAt, heartbeatAt: Date.now() }],
    holderOf: async (key) => (cluster ? cluster.holderOf(key) : worker?.engine.holds(key) ? nodeId : undefined),
    drain: async (id) => {
      if (!cluster) {
        throw new ApiError('InvalidParameter', 'this node is not part of a cluster (WEBCAST_DATABASE_URL): there is no other worker to hand its tasks to; a SIGTERM stops it and keeps them for its next start');
      }
      const target = id ?? nodeId;
      const node = (await cluster.nodes()).find((n) => n.nodeId === target);
      if (!node) throw new ApiError('InvalidParameter', `no live node ${target}; ListWebcastNodes (webcast nodes) shows them`);
      if (node.role !== 'worker') throw new ApiError('InvalidParameter', `node ${target} answers the API only: it runs no task to hand over`);
      await cluster.requestDrain(target);
      return target;
    },
  };
  const server = await buildApiServer({
    tasks,
    keys,
    log,
    rateLimits: config.rateLimits,
    region: config.region,
    maxClockSkewMs: config.maxClockSkewMs,
    metrics,
    homePath: '/console',
    ...(store instanceof PostgresTaskStore ? { sharedCounter: store } : {}),
    nodes,
    readiness: async () => ({
      store: await store.list({ limit: 1 }).then(() => true, () => false),
      ...(worker ? await worker.readiness() : {}),
    }),
  });
  const viewers = worker ? new ViewerRegistry<WhepSession>(worker.rooms, log.child({ module: 'console' })) : undefined;
  const relay = worker ? new MediaRelay(log.child({ module: 'relay' }), { publicIps: config.janusPublicIp ? [config.janusPublicIp] : [] }) : undefined;
  await server.register(consoleRoutes, {
    tasks,
    keys,
    signer: TokenSigner.fromDataDir(config.dataDir),
    viewers,
    relay,
    thumbnail: worker ? async (key, width) => worker.engine.session(key)?.thumbnail(width) : undefined,
    staticDir: CONSOLE_DIR,
    nodes,
  });
  return {
    server,
    store,
    queue,
    callbacks,
    worker,
    cluster,
    generatedKey,
    async close() {
      await server.close();
      await viewers?.closeAll();
      relay?.close();
      // Handed over: the new publishers replace ours in the rooms, so viewers see the shortest gap.
      if ((await cluster?.close()) && worker) await worker.engine.handOver(HAND_OVER_TIMEOUT_MS);
      await worker?.close();
      await resumes.close();
      await callbacks.stop();
      await store.close();
      lock.release();
    },
  };
}
