import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, afterEach, describe, it } from 'node:test';
import { freePort } from '../../src/rooms/janus/embedded-janus.js';
import { sdkClient, startTestNode, validStart, waitFor, type TestNode } from '../helpers/node.js';
import { spawnService } from '../helpers/process.js';
import { CallbackReceiver } from '../helpers/receiver.js';
import { startServiceDns } from '../helpers/dns-server.js';
import { transition } from '../../src/tasks/state-machine.js';
import { StopReason } from '../../src/tasks/types.js';

const SECRET = 'callback-secret-for-tests';

describe('signed callbacks from a durable outbox', () => {
  let t: TestNode | undefined;
  let receiver: CallbackReceiver | undefined;
  afterEach(async () => {
    await t?.close();
    await receiver?.close();
    t = undefined;
    receiver = undefined;
  });

  const stopOne = async (TaskId: string) => {
    if (!t) throw new Error('no node');
    const api = sdkClient(t.host);
    await api.start(validStart({ TaskId, BusinessId: 'course-7' }));
    await api.stop({ AppId: 'app1', RoomId: 'room1', TaskId });
  };

  it('tells the customer of the end, signed, with the task’s times', async () => {
    receiver = new CallbackReceiver();
    t = await startTestNode({ env: { WEBCAST_CALLBACK_URL: await receiver.listen(), WEBCAST_CALLBACK_SECRET: SECRET } });
    await stopOne('ended');
    const [end] = await waitFor('the callback', async () => receiver?.events().length === 1 && receiver.events());
    assert.ok(end);
    assert.equal(end.EventType, 'WebcastEnd');
    assert.equal(end.AppId, 'app1');
    assert.equal(end.Version, '2020-12-01');
    assert.match(end.Nonce, /^[a-zA-Z0-9]{4}$/);
    assert.match(end.EventId, /^[0-9a-f-]{36}$/);
    assert.ok(!Number.isNaN(Date.parse(end.EventTime)) && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(end.EventTime), end.EventTime);
    assert.equal(receiver.signatureValid(end, SECRET), true);
    assert.equal(receiver.signatureValid(end, 'another-secret'), false);
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    assert.match(metrics, /webcast_callback_deliveries_total\{result="delivered",node="[^"]+"\} 1/);
    assert.match(metrics, /webcast_api_requests_total\{action="StartWebcast",code="ok",node="[^"]+"\} 1/);
    assert.deepEqual(
      { ...end.data, StartTime: typeof end.data.StartTime, EndTime: typeof end.data.EndTime },
      { AppId: 'app1', RoomId: 'room1', TaskId: 'ended', UserId: 'webcast-bot', BusinessId: 'course-7', Status: 3, StopReason: 'StopByAPI', StartTime: 'number', EndTime: 'number' },
    );
  });

  it('says in the WebcastEnd of a failed task why it failed (FailureDetail, ours)', async () => {
    receiver = new CallbackReceiver();
    t = await startTestNode({ env: { WEBCAST_CALLBACK_URL: await receiver.listen(), WEBCAST_CALLBACK_SECRET: SECRET } });
    await sdkClient(t.host).start(validStart({ TaskId: 'failing' }));
    const detail = "10.1.2.3: 10.1.2.3 is a private address, which webcast pages may not reach unless the node's WEBCAST_URL_ALLOWLIST opens it";
    // As the engine fails a task: one transaction through the store, which queues the callback.
    await t.node.store.update({ AppId: 'app1', RoomId: 'room1', TaskId: 'failing' }, (task) => transition(task, { type: 'failed', reason: StopReason.StartTaskFailed, detail }, Date.now()));
    const [end] = await waitFor('the callback', async () => receiver?.events().length === 1 && receiver.events());
    assert.deepEqual([end?.EventType, end?.data.Status, end?.data.StopReason, end?.data.FailureDetail], ['WebcastEnd', 4, 'StartTaskFailed', detail]);
    assert.equal(end && receiver.signatureValid(end, SECRET), true);
    // GetWebCastTask keeps the vendor's shape.
    const got = (await sdkClient(t.host).get({ AppId: 'app1', RoomId: 'room1', TaskId: 'failing' })).Result as { WebCastTask: Record<string, unknown> };
    assert.equal('FailureDetail' in got.WebCastTask, false);
  });

  it('delivers on the third try to a receiver that fails twice, with the same EventId each time', async () => {
    receiver = new CallbackReceiver();
    receiver.failNext = [500, 503];
    t = await startTestNode({ env: { WEBCAST_CALLBACK_URL: await receiver.listen(), WEBCAST_CALLBACK_SECRET: SECRET } });
    await stopOne('flaky');
    await waitFor('three deliveries', async () => receiver?.received.length === 3, 10_000);
    assert.equal(new Set(receiver.received.map((b) => b.EventId)).size, 1);
    const [stored] = await t.node.store.callbacksOf({ AppId: 'app1', RoomId: 'room1', TaskId: 'flaky' });
    assert.deepEqual([stored?.state, stored?.attempts], ['delivered', 3]);
    assert.ok(t.logs.some((l) => l.includes('callback delivery failed; will retry') && l.includes('HTTP 500')));
    assert.match(await (await fetch(`${t.url}/metrics`)).text(), /webcast_callback_deliveries_total\{result="retried",node="[^"]+"\} 2/);
  });

  it('gives up after three deliveries, and says so in the log and the store', async () => {
    receiver = new CallbackReceiver();
    receiver.failNext = [500, 500, 500, 500];
    t = await startTestNode({ env: { WEBCAST_CALLBACK_URL: await receiver.listen(), WEBCAST_CALLBACK_SECRET: SECRET } });
    await stopOne('refused');
    await waitFor('giving up', async () => t?.logs.some((l) => l.includes('callback not delivered; giving up')), 10_000);
    const [stored] = await t.node.store.callbacksOf({ AppId: 'app1', RoomId: 'room1', TaskId: 'refused' });
    assert.deepEqual([stored?.state, stored?.attempts, stored?.lastError], ['failed', 3, 'HTTP 500']);
    assert.equal(receiver.received.length, 3);
  });

  it('delivers one customer\'s callbacks at their own pace while another customer\'s endpoint hangs', async (ctx) => {
    receiver = new CallbackReceiver();
    const healthy = await receiver.listen();
    // An endpoint that takes every request and never answers.
    const hanging = http.createServer(() => undefined);
    await new Promise<void>((r) => hanging.listen(0, '127.0.0.1', r));
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'webcast-pace-')), 'callbacks.json');
    writeFileSync(file, JSON.stringify({ callbacks: [
      { appId: 'slow', url: `http://127.0.0.1:${(hanging.address() as AddressInfo).port}/`, secret: SECRET },
      { appId: 'fast', url: healthy, secret: SECRET },
    ] }));
    try {
      t = await startTestNode({ env: { WEBCAST_CALLBACKS_FILE: file } });
      const api = sdkClient(t.host);
      const stop = async (AppId: string, TaskId: string) => {
        await api.start(validStart({ AppId, TaskId }));
        await api.stop({ AppId, RoomId: 'room1', TaskId });
        return Date.now();
      };
      for (let i = 0; i < 12; i += 1) await stop('slow', `s${i}`);
      await new Promise((r) => setTimeout(r, 300));
      const stoppedAt = new Map<string, number>();
      for (let i = 0; i < 6; i += 1) {
        stoppedAt.set(`f${i}`, await stop('fast', `f${i}`));
        await new Promise((r) => setTimeout(r, 400));
      }
      await waitFor('every fast callback', async () => receiver?.events().length === 6, 15_000);
      const arrived = new Map<string, number>();
      receiver.received.forEach((b, i) => {
        const task = String((JSON.parse(b.EventData) as { TaskId: string }).TaskId);
        if (!arrived.has(task)) arrived.set(task, receiver?.arrivedAt[i] ?? Infinity);
      });
      const delays = [...stoppedAt].map(([task, at]) => (arrived.get(task) ?? Infinity) - at);
      ctx.diagnostic(`healthy endpoint, stop → callback: ${delays.join(', ')} ms`);
      // A delivery round that waited for its slowest delivery held these for up to 5 s.
      assert.ok(Math.max(...delays) < 1500, `the healthy endpoint's callbacks arrived after ${delays.join(', ')} ms`);
    } finally {
      hanging.closeAllConnections();
      hanging.close();
    }
  });

  it('keeps callbacks of an AppId without a URL, and sends them nowhere', async () => {
    t = await startTestNode();
    await stopOne('silent');
    const [stored] = await waitFor('skipped', async () => {
      const list = await t?.node.store.callbacksOf({ AppId: 'app1', RoomId: 'room1', TaskId: 'silent' });
      return list?.[0]?.state === 'skipped' && list;
    });
    assert.equal(stored?.event.EventType, 'WebcastEnd');
  });
});

describe('callbacks across a crash', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'webcast-outbox-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('delivers, after a SIGKILL and a restart, what was still in the outbox', async () => {
    const port = await freePort();
    const env = {
      WEBCAST_WORKER: 'false',
      WEBCAST_DATA_DIR: dir,
      WEBCAST_ACCESS_KEY: 'AKOUTBOX000000001',
      WEBCAST_SECRET_KEY: 'outbox-secret-key-000000000001',
      WEBCAST_CALLBACK_URL: `http://127.0.0.1:${port}/callbacks`,
      WEBCAST_CALLBACK_SECRET: SECRET,
    };
    const first = await spawnService(env);
    const api = sdkClient(first.host, { accessKey: env.WEBCAST_ACCESS_KEY, secretKey: env.WEBCAST_SECRET_KEY });
    await api.start(validStart({ TaskId: 'crash' }));
    await api.stop({ AppId: 'app1', RoomId: 'room1', TaskId: 'crash' });
    // Nobody listens yet: the first delivery fails and the event waits in the outbox.
    await waitFor('a failed delivery', async () => first.output().includes('callback delivery failed'), 5000, 50);
    await first.stop('SIGKILL');

    const receiver = new CallbackReceiver();
    await receiver.listen(port);
    const second = await spawnService(env);
    try {
      const [end] = await waitFor('the event after the restart', async () => receiver.events().length === 1 && receiver.events(), 10_000);
      assert.equal(end?.EventType, 'WebcastEnd');
      assert.equal(end?.data.TaskId, 'crash');
      assert.equal(end && receiver.signatureValid(end, SECRET), true);
    } finally {
      await second.stop();
      await receiver.close();
    }
  });
});

describe('callbacks to an endpoint whose name DNS never answers', { skip: process.getuid?.() !== 0 && 'needs root, to give the service a resolv.conf of its own and a DNS server on port 53' }, () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'webcast-silent-hooks-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  // Before 2026-11-28 the node looked such names up with getaddrinfo on libuv's four threads
  // (fetch does): one endpoint's four deliveries in flight held them all, each for about 10 s,
  // and another customer's endpoint, named by a host name too, waited behind them.
  it('delivers another customer\'s callbacks at their pace, and says why the silent one\'s failed', async (ctx) => {
    const { dns, prefix } = await startServiceDns({ names: { 'hooks.test': ['127.0.0.1'] }, silent: (n) => n.endsWith('.silent.test') }, dir);
    const receiver = new CallbackReceiver();
    const healthy = new URL(await receiver.listen());
    healthy.hostname = 'hooks.test';
    const file = path.join(dir, 'callbacks.json');
    writeFileSync(file, JSON.stringify({ callbacks: [
      { appId: 'slow', url: 'http://hooks.silent.test/callbacks', secret: SECRET },
      { appId: 'fast', url: healthy.href, secret: SECRET },
    ] }), { mode: 0o600 });
    const env = { WEBCAST_WORKER: 'false', WEBCAST_DATA_DIR: path.join(dir, 'data'), WEBCAST_ACCESS_KEY: 'AKHOOKS0000000001', WEBCAST_SECRET_KEY: 'silent-hooks-secret-0000000001', WEBCAST_CALLBACKS_FILE: file };
    const service = await spawnService(env, undefined, prefix);
    try {
      const api = sdkClient(service.host, { accessKey: env.WEBCAST_ACCESS_KEY, secretKey: env.WEBCAST_SECRET_KEY });
      const stop = async (AppId: string, TaskId: string) => {
        await api.start(validStart({ AppId, TaskId }));
        await api.stop({ AppId, RoomId: 'room1', TaskId });
        return Date.now();
      };
      for (let i = 0; i < 12; i += 1) await stop('slow', `s${i}`);
      await waitFor('the silent endpoint looked up', async () => dns.asked((n) => n === 'hooks.silent.test') >= 4, 5000, 50);
      const stoppedAt = new Map<string, number>();
      for (let i = 0; i < 6; i += 1) {
        stoppedAt.set(`f${i}`, await stop('fast', `f${i}`));
        await new Promise((r) => setTimeout(r, 400));
      }
      await waitFor('every fast callback', async () => receiver.events().length === 6, 30_000);
      const arrived = new Map<string, number>();
      receiver.received.forEach((b, i) => {
        const task = String((JSON.parse(b.EventData) as { TaskId: string }).TaskId);
        if (!arrived.has(task)) arrived.set(task, receiver.arrivedAt[i] ?? Infinity);
      });
      const delays = [...stoppedAt].map(([task, at]) => (arrived.get(task) ?? Infinity) - at);
      ctx.diagnostic(`endpoint named hooks.test, stop → callback: ${delays.join(', ')} ms`);
      assert.ok(Math.max(...delays) < 1500, `the healthy endpoint's callbacks arrived after ${delays.join(', ')} ms`);
      const line = await waitFor('the retry logged', async () => service.output().split('\n').find((l) => l.includes('callback delivery failed; will retry') && l.includes('slow/')), 15_000);
      assert.match(line, /looking up hooks\.silent\.test: DNS did not answer/, 'the log says why');
    } finally {
      await service.stop();
      await receiver.close();
      dns.close();
    }
  });
});
