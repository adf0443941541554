import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Service } from '@volcengine/openapi';
import { createNode, type WebcastNode } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import type { Clock } from '../../src/tasks/ports.js';
import type { TaskQueue } from '../../src/scheduler/task-queue.js';
import { signRequest } from '../../src/api/signature.js';
import { testBrowserUids } from './uid-range.js';

export const ACCESS_KEY = 'AKTESTKEY0000000001';
export const SECRET_KEY = 'test-secret-key-that-is-long-enough';

export interface TestNode {
  node: WebcastNode;
  url: string;
  host: string;
  dataDir: string;
  config: Config;
  /** Every line the node logged, as written. */
  logs: string[];
  close(opts?: { keepData?: boolean }): Promise<void>;
}

export async function startTestNode(
  opts: { env?: Record<string, string>; taskClock?: Clock; dataDir?: string } = {},
): Promise<TestNode> {
  const dataDir = opts.dataDir ?? mkdtempSync(path.join(tmpdir(), 'webcast-test-'));
  const config = loadConfig({
    WEBCAST_DATA_DIR: dataDir,
    WEBCAST_PORT: '0',
    WEBCAST_ACCESS_KEY: ACCESS_KEY,
    WEBCAST_SECRET_KEY: SECRET_KEY,
    // The API tests need no media side; the engine tests turn it on.
    WEBCAST_WORKER: 'false',
    // Tests put tasks on air by count, one per core as before, so that what they start runs
    // whatever else loads the machine; test/engine/admission.test.ts runs the default.
    WEBCAST_ADMISSION: 'count',
    // Test files run two at a time; nodes running at once need browser uids of their own.
    WEBCAST_BROWSER_UIDS: testBrowserUids(),
    ...opts.env,
  });
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  const node = await createNode(config, createLogger({ level: 'debug', destination }), { taskClock: opts.taskClock });
  const url = await node.server.listen({ host: '127.0.0.1', port: 0 });
  node.cluster?.setAddress(url);
  return {
    node,
    url,
    host: new URL(url).host,
    dataDir,
    config,
    logs,
    async close({ keepData = false } = {}) {
      await node.close();
      if (!keepData) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface ApiResponse {
  ResponseMetadata: {
    RequestId: string;
    Action: string;
    Version: string;
    Service: string;
    Region: string;
    Error?: { Code: string; CodeN?: number; Message: string };
  };
  Result?: unknown;
}

type ApiCall = (data: Record<string, unknown>) => Promise<ApiResponse>;

/** The vendor's official Node SDK, pointed at our host: what a migrating customer runs. */
export function sdkClient(host: string, keys: { accessKey: string; secretKey: string } = { accessKey: ACCESS_KEY, secretKey: SECRET_KEY }, version = '2020-12-01') {
  const service = new Service({
    host,
    protocol: 'http:',
    region: 'cn-north-1',
    serviceName: 'rtc',
    accessKeyId: keys.accessKey,
    secretKey: keys.secretKey,
  });
  const api = (action: string, method: 'GET' | 'POST'): ApiCall => {
    const call = service.createAPI(action, { method, contentType: 'json', Version: version });
    return (data) => call(data) as Promise<ApiResponse>;
  };
  return {
    start: api('StartWebcast', 'POST'),
    stop: api('StopWebcast', 'POST'),
    get: api('GetWebCastTask', 'GET'),
    api,
  };
}

export const validStart = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  AppId: 'app1',
  RoomId: 'room1',
  TaskId: 'task1',
  UserId: 'webcast-bot',
  SourceURL: 'https://example.com/slides?token=abc',
  ...over,
});

/** The task holder of an API-only test node. */
export function queueOf(t: TestNode): TaskQueue {
  if (!t.node.queue) throw new Error('this test node runs a worker, not a queue');
  return t.node.queue;
}

/** Polls `probe` until it returns something truthy, or fails with the last value after `timeoutMs`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 15_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined | false;
  while (Date.now() < deadline) {
    last = await probe();
    if (last) return last;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
}

export interface WebCastTaskView {
  Status: number;
  StopReason: string;
  StartTime: number;
  EndTime: number;
  UserId: string;
}

/** GetWebCastTask's task, or undefined when there is none. */
export async function getTask(host: string, key: { AppId: string; RoomId: string; TaskId: string }): Promise<WebCastTaskView | undefined> {
  const res = await sdkClient(host).get(key);
  return (res.Result as { WebCastTask?: WebCastTaskView } | undefined)?.WebCastTask;
}

/** A request signed in the header form, sent as is: for what the SDK client does not show (status, headers). */
export function signedFetch(t: TestNode, method: 'GET' | 'POST', action: string, body: string | undefined): Promise<Response> {
  const url = new URL(`${t.url}/?Action=${action}&Version=2020-12-01`);
  const headers = signRequest({ method, url, body, accessKey: ACCESS_KEY, secretKey: SECRET_KEY, headers: { 'Content-Type': 'application/json' } });
  return fetch(url, { method, headers, body });
}
