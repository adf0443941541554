import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startServiceDns, type DnsServer } from '../helpers/dns-server.js';
import { ACCESS_KEY, getTask, SECRET_KEY, sdkClient, waitFor } from '../helpers/node.js';
import { startPageServer, type PageServer } from '../helpers/pages.js';
import { spawnService, type ServiceProcess } from '../helpers/process.js';
import { measureCores } from '../helpers/procfs.js';
import { decodedByViewer } from '../helpers/viewer-link.js';

/**
 * A page that abuses the egress proxy, which every task's pages share, beside a benign task of
 * another AppId. Names the node looks up for a page whose DNS never answers must hold up
 * nobody else. Before 2026-11-28 the node
 * looked them up with getaddrinfo on libuv's four threads, which its file system calls share:
 * a page fetching random names of a silent domain held all four, and another AppId's task
 * failed to start (StartTaskFailed). The service runs with a resolv.conf of its own, naming a DNS
 * server of this file's that answers benign.test and is silent for every name under silent.test.
 * (A customer's callback server with such a name: test/api/callbacks.test.ts.) And refusals,
 * which a page makes as many of as it likes, must not fill the node's log: before, one page
 * wrote 280 lines a second.
 */
const notRoot = process.getuid?.() !== 0 && 'needs root, to give the service a resolv.conf of its own and a DNS server on port 53';
const BENIGN = { AppId: 'benign', RoomId: 'hall', TaskId: 'named' };
const ATTACKER = { AppId: 'attacker', RoomId: 'den', TaskId: 'names' };

const PULLER = { AppId: 'attacker', RoomId: 'den', TaskId: 'bytes' };

/** Fetches random names under silent.test, and random private addresses, without end, as many at once as the browser lets it. */
const FLOOD_PAGE = `<!doctype html><body style="background:#345"><script>
const any = () => Math.floor(Math.random() * 250);
const names = () => fetch('http://n' + Math.random().toString(36).slice(2) + '.silent.test/', { mode: 'no-cors' }).catch(() => undefined).finally(names);
const refused = () => fetch('http://10.' + any() + '.' + any() + '.' + any() + '/', { mode: 'no-cors' }).catch(() => undefined).finally(refused);
for (let i = 0; i < 32; i++) { names(); refused(); }
</script>`;
/** Pulls a big file of its own server without end, six at a time. */
const PULL_PAGE = `<!doctype html><body style="background:#543"><script>
const pull = () => fetch('/blob?' + Math.random()).then((r) => r.arrayBuffer()).catch(() => undefined).finally(pull);
for (let i = 0; i < 6; i++) pull();
</script>`;

describe('a page that asks for names DNS never answers, and for private addresses, without end', { timeout: 180_000, skip: notRoot }, () => {
  let dns: DnsServer;
  let pages: PageServer;
  let flood: http.Server;
  /** 32 MiB files the page pulled through the proxy. */
  let pulled = 0;
  let service: ServiceProcess | undefined;
  const dir = mkdtempSync(path.join(tmpdir(), 'webcast-egress-abuse-'));

  before(async () => {
    const served = await startServiceDns({ names: { 'benign.test': ['127.0.0.1'] }, silent: (n) => n.endsWith('.silent.test') }, dir);
    dns = served.dns;
    pages = await startPageServer();
    const blob = Buffer.alloc(32 << 20, 7);
    flood = http.createServer((req, res) => {
      if (req.url?.startsWith('/blob')) {
        pulled += 1;
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'cache-control': 'no-store' }).end(blob);
      } else res.writeHead(200, { 'content-type': 'text/html' }).end(req.url?.startsWith('/pull') ? PULL_PAGE : FLOOD_PAGE);
    });
    await new Promise<void>((r) => flood.listen(0, '127.0.0.1', r));
    service = await spawnService(
      {
        WEBCAST_WORKER: 'true',
        WEBCAST_DATA_DIR: path.join(dir, 'data'),
        WEBCAST_ACCESS_KEY: ACCESS_KEY,
        WEBCAST_SECRET_KEY: SECRET_KEY,
        WEBCAST_URL_ALLOWLIST: '127.0.0.1,benign.test',
        // The attacker's pages spin the CPU: admission by cost would hold the third task back.
        WEBCAST_ADMISSION: 'count',
        WEBCAST_MAX_TASKS: '3',
      },
      undefined,
      served.prefix,
    );
  });
  after(async () => {
    const code = await service?.stop();
    await pages.close();
    flood.close();
    dns.close();
    rmSync(dir, { recursive: true, force: true });
    assert.equal(code, 0, 'the service stops cleanly');
  });

  const start = async (key: typeof BENIGN, url: string, layer: { Width: number; Height: number; FrameRate: number }) => {
    if (!service) throw new Error('no service');
    const res = await sdkClient(service.host).start({ ...key, UserId: `${key.AppId}-${key.TaskId}`, SourceURL: url, VideoSolutions: [layer] });
    assert.equal(res.Result, 'ok', JSON.stringify(res.ResponseMetadata.Error));
    await waitFor(`${key.TaskId} on air`, async () => {
      const task = await getTask(service?.host ?? '', key);
      if (task && task.Status > 2) throw new Error(`${key.TaskId} ended: ${JSON.stringify(task)}`);
      return task?.Status === 2;
    }, 30_000);
  };

  it('puts another AppId\'s page, named by a host name, on air at its size', async () => {
    if (!service) throw new Error('no service');
    await start(ATTACKER, `http://127.0.0.1:${(flood.address() as AddressInfo).port}/`, { Width: 320, Height: 180, FrameRate: 10 });
    // Four names at once (an A and an AAAA query each) held every thread before.
    await waitFor('the page asking for silent names', async () => dns.asked((n) => n.endsWith('.silent.test')) >= 8, 20_000);
    const askedBefore = dns.asked((n) => n.endsWith('.silent.test'));

    await start(BENIGN, `http://benign.test:${new URL(pages.url).port}/tone`, { Width: 640, Height: 360, FrameRate: 15 });
    const video = await decodedByViewer(service.host, { accessKey: ACCESS_KEY, secretKey: SECRET_KEY }, BENIGN, `${BENIGN.AppId}-${BENIGN.TaskId}`, 640);
    assert.equal(video.height, 360, `a viewer decodes the page at its size (${JSON.stringify(video)})`);
    assert.ok(dns.asked((n) => n.endsWith('.silent.test')) > askedBefore, 'the page went on asking meanwhile');
  });

  it('tells the refusals in a few lines, and counts them all', async (ctx) => {
    if (!service) throw new Error('no service');
    const refusedSoFar = async () => Number(/^webcast_egress_refusals_total(?:\{[^}]*\})? (\d+)/m.exec(await (await fetch(`http://${service?.host ?? ''}/metrics`)).text())?.[1] ?? 0);
    const many = await waitFor('hundreds of refusals', async () => { const n = await refusedSoFar(); return n >= 500 && n; }, 30_000, 500);
    const lines = service.output().split('\n').filter((l) => l.includes('cloud browser request refused'));
    ctx.diagnostic(`${lines.length} lines for ${many} refusals`);
    // The whole test takes under a minute: one span.
    assert.ok(lines.length <= 20, `${lines.length} lines for ${many} refusals`);
    assert.ok(lines.length > 0, 'refusals are told');
    assert.match(lines[0] ?? '', /"host":"10\.\d+\.\d+\.\d+".*private address/, 'a line says which host and why');
  });

  it('keeps the bytes a page pulls through the proxy, as fast as it can, off the service\'s own process', async (ctx) => {
    if (!service) throw new Error('no service');
    await start(PULLER, `http://127.0.0.1:${(flood.address() as AddressInfo).port}/pull`, { Width: 320, Height: 180, FrameRate: 10 });
    await waitFor('the page pulling', async () => pulled >= 6, 20_000);
    const before = pulled;
    const started = Date.now();
    const took: number[] = [];
    // The service's own process: the bytes are not its work.
    const serviceCpu = measureCores(() => [service?.child.pid ?? 0], 6000);
    while (Date.now() - started < 6000) {
      const t0 = performance.now();
      await getTask(service.host, BENIGN);
      took.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 200));
    }
    const { cores } = await serviceCpu;
    const mbps = ((pulled - before) * 32) / ((Date.now() - started) / 1000);
    took.sort((a, b) => a - b);
    ctx.diagnostic(`${mbps.toFixed(0)} MiB/s through the proxy; the service's process ${cores.toFixed(2)} cores; GetWebCastTask median ${took[took.length >> 1]?.toFixed(1)} ms, slowest ${took.at(-1)?.toFixed(1)} ms`);
    assert.ok(mbps > 20, `the page pulled ${mbps.toFixed(0)} MiB/s (the check works)`);
    assert.ok(cores < 0.15, `the service's process took ${cores.toFixed(2)} cores while the page pulled ${mbps.toFixed(0)} MiB/s`);
    assert.equal((await getTask(service.host, BENIGN))?.Status, 2, 'the benign task is still on air');
  });
});
