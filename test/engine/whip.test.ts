import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { getTask, sdkClient, startTestNode, waitFor, type TestNode } from '../helpers/node.js';
import { PAGE_COLOR, TONE_HZ, near, startPageServer, type PageServer } from '../helpers/pages.js';
import { Subscriber } from '../helpers/subscriber.js';
import { startWhipPeer, whipServerInstalled, type WhipPeer } from '../helpers/whip-server.js';
import { printNodeLogsOnFailure } from '../helpers/failure-logs.js';

const TOKEN = 'stage-token-6f1c';

/**
 * Publishing into a WHIP endpoint nobody here wrote: Debian's simple-whip-server in front of a
 * Janus of its own. What arrives is checked by a real subscriber in that Janus's room.
 */
describe('publishing into any WHIP endpoint (WEBCAST_ROOM_BACKEND=whip)', { timeout: 240_000, skip: !whipServerInstalled() && 'simple-whip-server is not installed: run npm run setup' }, () => {
  let peer: WhipPeer;
  let t: TestNode;
  printNodeLogsOnFailure(() => t);
  let pages: PageServer;
  const subscribers: Subscriber[] = [];

  before(async () => {
    pages = await startPageServer();
    peer = await startWhipPeer();
    // One endpoint per publisher, as simple-whip-server has it: {RoomId}.{UserId}.
    await peer.createEndpoint({ id: 'stage.host', room: { appId: 'shows', roomId: 'stage' }, label: 'host', token: TOKEN });
    await peer.createEndpoint({ id: 'locked.host', room: { appId: 'wrongkey', roomId: 'locked' }, label: 'host', token: TOKEN });
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'webcast-whip-')), 'whip.json');
    // AppId `wrongkey` has a token of its own, which the endpoint does not take.
    writeFileSync(file, JSON.stringify({ whip: [{ appId: 'wrongkey', url: `${peer.url}/endpoint/{RoomId}.{UserId}`, token: 'not-the-token' }] }), { mode: 0o600 });
    t = await startTestNode({
      env: {
        WEBCAST_WORKER: 'true',
        WEBCAST_URL_ALLOWLIST: '127.0.0.1',
        WEBCAST_MAX_TASKS: '3',
        WEBCAST_ROOM_BACKEND: 'whip',
        WEBCAST_WHIP_URL: `${peer.url}/endpoint/{RoomId}.{UserId}`,
        WEBCAST_WHIP_TOKEN: TOKEN,
        WEBCAST_WHIP_FILE: file,
      },
    });
  });
  after(async () => {
    await Promise.all(subscribers.map((s) => s.leave().catch(() => undefined)));
    await t?.close();
    await peer?.close();
    await pages?.close();
  });

  const key = { AppId: 'shows', RoomId: 'stage', TaskId: 'w1' };
  const stage = { appId: 'shows', roomId: 'stage' };
  const join = async (layer?: number) => {
    const s = await Subscriber.join(peer.rooms, stage, 'host', layer);
    subscribers.push(s);
    return s;
  };
  const enabled = async (id: string) => (await peer.endpoints()).find((e) => e.id === id)?.enabled;

  it('publishes both simulcast layers, the page\'s colour and its sound, into the room behind the endpoint', async () => {
    const res = await sdkClient(t.host).start({
      ...key,
      UserId: 'host',
      SourceURL: `${pages.url}/tone`,
      VideoSolutions: [
        { Width: 1280, Height: 720, FrameRate: 15 },
        { Width: 640, Height: 360, FrameRate: 15 },
      ],
    });
    assert.equal(res.Result, 'ok', JSON.stringify(res.ResponseMetadata.Error));
    await waitFor('Status 2', async () => (await getTask(t.host, key))?.Status === 2, 30_000);
    assert.equal(await enabled('stage.host'), true, 'the endpoint has its publisher');
    assert.deepEqual((await peer.rooms.publishers(stage)).map((p) => p.userId), ['host']);
    const sub = await join(1);
    const big = await sub.waitForVideo((v) => v.width === 1280 && v.framesDecoded > 15);
    assert.deepEqual([big.width, big.height], [1280, 720]);
    const fps = await sub.measuredFps(3000);
    assert.ok(fps >= 0.8 * 15, `big layer at ${fps.toFixed(1)} fps, asked 15`);
    const colour = await sub.pixel(0.5, 0.8);
    assert.ok(near(colour, PAGE_COLOR), `decoded ${colour.join(',')}, page is ${PAGE_COLOR.join(',')}`);
    const tone = await sub.loudestFrequency(2000);
    assert.ok(Math.abs(tone.hz - TONE_HZ) < 15, `loudest ${tone.hz} Hz`);
    await sub.setLayer(0);
    const small = await sub.waitForVideo((v) => v.width === 640);
    assert.deepEqual([small.width, small.height], [640, 360]);
  });

  it('publishes afresh when the endpoint drops the session: a new WHIP session, the task on air throughout', async () => {
    // The server ends the session by itself, as an SFU restarting or timing it out would.
    const dropped = await fetch(`${peer.url}/resource/stage.host`, { method: 'DELETE', headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(dropped.status, 200);
    const started = Date.now();
    await waitFor('a new WHIP session', async () => (await enabled('stage.host')) === true && (await peer.rooms.publishers(stage)).length === 1, 60_000, 250);
    console.log(`# whip: session dropped by the server → a new one on air after ${Date.now() - started} ms`);
    const sub = await join(0);
    const v = await sub.waitForVideo((x) => x.framesDecoded > 10);
    assert.ok(v.framesDecoded > 10, 'a viewer decodes the new session');
    assert.equal((await getTask(t.host, key))?.Status, 2);
    assert.ok(t.logs.some((l) => l.includes('the WebRTC connection is')), 'the node saw the connection end');
  });

  it('ends the WHIP session at StopWebcast: DELETE, and the publisher leaves the room', async () => {
    await sdkClient(t.host).stop(key);
    await waitFor('Status 3', async () => (await getTask(t.host, key))?.Status === 3, 10_000);
    await waitFor('the endpoint free', async () => (await enabled('stage.host')) === false, 5000, 100);
    await waitFor('nobody in the room', async () => (await peer.rooms.publishers(stage)).length === 0, 5000, 100);
    assert.ok(peer.output().includes('[stage.host] Terminating WHIP session'), 'the server was told, not left to time out');
  });

  for (const [what, appId, roomId, detail] of [
    ['a token the endpoint refuses', 'wrongkey', 'locked', /refused the publisher: HTTP 403 Unauthorized/],
    ['an endpoint that does not exist', 'shows', 'nowhere', /refused the publisher: HTTP 404 Invalid endpoint ID/],
  ] as const) {
    it(`fails the task with the endpoint's own answer: ${what}`, async () => {
      const k = { AppId: appId, RoomId: roomId, TaskId: 'refused' };
      await sdkClient(t.host).start({ ...k, UserId: 'host', SourceURL: `${pages.url}/tone`, VideoSolutions: [{ Width: 320, Height: 180, FrameRate: 10 }] });
      const failed = await waitFor('Status 4', async () => {
        const task = await getTask(t.host, k);
        return task?.Status === 4 && task;
      }, 60_000);
      assert.equal(failed.StopReason, 'StartTaskFailed');
      assert.match((await t.node.store.get(k))?.FailureDetail ?? '', detail);
      assert.ok(!t.logs.some((l) => l.includes(TOKEN) || l.includes('not-the-token')), 'no token in the logs');
    });
  }
});
