import { startCluster } from '../test/helpers/cluster.js';
import { getTask, sdkClient, startTestNode, waitFor } from '../test/helpers/node.js';
import type { PageServer } from '../test/helpers/pages.js';

/**
 * What a cluster costs and buys: the API's throughput on PostgreSQL against SQLite (the shared
 * rate-limit count included), and the time from a worker's SIGKILL to frames at a viewer.
 */

/** Signed GetWebCastTask calls answered in `ms` by `clients` callers at once, per second. */
async function throughput(host: string, clients: number, ms: number): Promise<number> {
  const api = sdkClient(host);
  const key = { AppId: 'bench', RoomId: 'tp', TaskId: 'tp' };
  await api.start({ ...key, UserId: 'tp', SourceURL: 'https://example.com/' });
  const until = Date.now() + ms;
  let done = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (Date.now() < until) {
        const r = await api.get(key);
        if (r.ResponseMetadata.Error) throw new Error(JSON.stringify(r.ResponseMetadata.Error));
        done += 1;
      }
    }),
  );
  return (done * 1000) / ms;
}

/** API-only nodes, so that nothing else takes the CPU: one on SQLite, one on PostgreSQL, alternated `rounds` times. */
export async function apiThroughput(rounds: number, ms: number): Promise<{ sqlite: number[]; postgres: number[] }> {
  const c = await startCluster();
  const env = { WEBCAST_WORKER: 'false', WEBCAST_LOG_LEVEL: 'warn', WEBCAST_RATE_LIMITS: 'GetWebCastTask=1000000,StartWebcast=1000000' };
  const lite = await startTestNode({ env });
  const pg = await startTestNode({ env: { ...env, WEBCAST_DATABASE_URL: c.pg.url } });
  const out = { sqlite: [] as number[], postgres: [] as number[] };
  try {
    for (let i = 0; i < rounds; i += 1) {
      out.sqlite.push(await throughput(lite.host, 16, ms));
      out.postgres.push(await throughput(pg.host, 16, ms));
    }
  } finally {
    await lite.close();
    await pg.close();
    await c.close();
  }
  return out;
}

/** Two workers; a task on air; SIGKILL its worker; ms until a new viewer decodes frames. A new worker replaces the killed one each run. */
export async function failover(pages: PageServer, runs: number): Promise<number[]> {
  const c = await startCluster({ WEBCAST_URL_ALLOWLIST: '127.0.0.1', WEBCAST_LOG_LEVEL: 'warn' });
  const api = await startTestNode({ env: { ...c.env, WEBCAST_WORKER: 'false', WEBCAST_LOG_LEVEL: 'warn' } });
  const out: number[] = [];
  try {
    await c.startWorker(2);
    await c.startWorker(2);
    for (let i = 0; i < runs; i += 1) {
      const key = { AppId: 'bench', RoomId: `fo${i}`, TaskId: `fo${i}` };
      await sdkClient(api.host).start({ ...key, UserId: `u${i}`, SourceURL: `${pages.url}/tone`, VideoSolutions: [{ Width: 640, Height: 360, FrameRate: 15 }] });
      await waitFor('Status 2', async () => (await getTask(api.host, key))?.Status === 2, 60_000);
      await (await c.watch('bench', key.RoomId, `u${i}`)).waitForVideo((v) => v.framesDecoded > 0, 20_000);
      const owner = await c.ownerOf(key.TaskId);
      const victim = c.workers.find((w) => w.nodeId === owner);
      if (!victim) throw new Error(`no worker ${owner ?? '?'}`);
      const killedAt = Date.now();
      await victim.svc.stop('SIGKILL');
      out.push(await c.framesAgain('bench', key.RoomId, `u${i}`, killedAt, 60_000));
      await sdkClient(api.host).stop(key);
      await c.startWorker(2);
    }
  } finally {
    await api.close();
    await c.close();
  }
  return out;
}
