import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EmbeddedJanus } from '../../src/rooms/janus/embedded-janus.js';
import { createLogger } from '../../src/log.js';
import { getTask, sdkClient, startTestNode, waitFor, type TestNode } from '../helpers/node.js';
import { FRESH_COLOR, near, startPageServer, type PageServer } from '../helpers/pages.js';
import { Subscriber } from '../helpers/subscriber.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { printNodeLogsOnFailure } from '../helpers/failure-logs.js';

const RED = [220, 0, 0];

describe('browser contexts, and an external Janus', { timeout: 180_000 }, () => {
  let t: TestNode;
  printNodeLogsOnFailure(() => t);
  let pages: PageServer;
  let janus: EmbeddedJanus;
  const janusDir = mkdtempSync(path.join(tmpdir(), 'external-janus-'));
  before(async () => {
    pages = await startPageServer();
    // Started apart from the node, as an operator's own Janus would be.
    janus = new EmbeddedJanus({ dataDir: janusDir, log: createLogger({ level: 'silent' }) });
    const { wsUrl } = await janus.start();
    t = await startTestNode({ env: { WEBCAST_WORKER: 'true', WEBCAST_URL_ALLOWLIST: '127.0.0.1', WEBCAST_JANUS_URL: wsUrl, WEBCAST_JANUS_API_SECRET: janus.apiSecret } });
  });
  after(async () => {
    await t.close();
    await janus.stop();
    await pages.close();
    rmSync(janusDir, { recursive: true, force: true });
  });

  const colourSeenBy = async (roomId: string, userId: string) => {
    if (!t.node.worker) throw new Error('no worker');
    assert.equal(t.node.worker.janus, undefined, 'with WEBCAST_JANUS_URL the node starts no Janus of its own');
    const sub = await Subscriber.join(t.node.worker.rooms, { appId: 'app1', roomId }, userId);
    try {
      await sub.waitForVideo((v) => v.framesDecoded > 5);
      await new Promise((r) => setTimeout(r, 2500));
      return await sub.pixel(0.5, 0.5);
    } finally {
      await sub.leave();
    }
  };
  const start = async (TaskId: string, query = '') => {
    const key = { AppId: 'app1', RoomId: TaskId, TaskId };
    await sdkClient(t.host).start({ ...key, UserId: TaskId, SourceURL: `${pages.url}/isolation${query}`, VideoSolutions: [{ Width: 320, Height: 180, FrameRate: 10 }] });
    await waitFor('Status 2', async () => (await getTask(t.host, key))?.Status === 2);
    return key;
  };

  it('a page finds what it left behind when it loads again in its own context (the check works)', async () => {
    const key = await start('control', '?reload');
    const colour = await waitFor('red after the reload', async () => {
      const c = await colourSeenBy('control', 'control');
      return near(c, RED, 20) && c;
    }, 20_000, 500);
    assert.ok(near(colour, RED, 20));
    await sdkClient(t.host).stop(key);
  });

  it('gives each task a fresh context: no cookie, storage or cache of another task, running or ended', async () => {
    const a = await start('first');
    assert.ok(near(await colourSeenBy('first', 'first'), FRESH_COLOR, 20));
    const b = await start('second');
    assert.ok(near(await colourSeenBy('second', 'second'), FRESH_COLOR, 20), 'a task beside a running one starts fresh');
    await sdkClient(t.host).stop(a);
    await sdkClient(t.host).stop(b);
    await start('third');
    assert.ok(near(await colourSeenBy('third', 'third'), FRESH_COLOR, 20), 'a task after ended ones starts fresh');
  });

  it('lets none of the cloud browser\'s own requests out (Google\'s account and update checks): the egress proxy is asked for the pages\' hosts only', () => {
    // Every browser of this file, tasks' and spares', has run for a minute by now. The proxy logs
    // each host it could not reach (no host resolves here but loopback) at debug level.
    // (The controller's origin, served inside the browser, is asked for now and then: a name under
    // .invalid, ours, which resolves nowhere.) Before the browser's own proxy was set apart:
    // clients2.google.com, update.googleapis.com and accounts.google.com.
    const asked = t.logs.filter((l) => /cloud browser request|upstream failed/.test(l)).map((l) => JSON.parse(l) as { host?: string; url?: string });
    const hosts = new Set(asked.map((l) => l.host ?? l.url).filter((h) => !/^controller-[0-9a-f]+\.webcast\.invalid$/.test(h ?? '')));
    assert.deepEqual([...hosts], [], JSON.stringify(asked));
  });
});
