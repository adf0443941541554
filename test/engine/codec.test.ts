import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startEngineNode, type EngineSetup } from '../helpers/engine-node.js';
import { getTask, sdkClient, waitFor, type TestNode } from '../helpers/node.js';
import { PAGE_COLOR, type PageServer } from '../helpers/pages.js';
import { TokenSigner } from '../../src/console/tokens.js';
import { Subscriber, WhepPlayer } from '../helpers/subscriber.js';
import { printNodeLogsOnFailure } from '../helpers/failure-logs.js';

describe('the video codec setting', { timeout: 120_000 }, () => {
  let setup: EngineSetup;
  printNodeLogsOnFailure(() => setup?.t);
  let t: TestNode;
  let pages: PageServer;
  before(async () => {
    setup = await startEngineNode({ WEBCAST_VIDEO_CODEC: 'h264' });
    ({ t, pages } = setup);
  });
  after(() => setup.close());

  it('publishes H.264 through Chromium’s OpenH264 when WEBCAST_VIDEO_CODEC=h264, in both layers', async () => {
    const key = { AppId: 'app1', RoomId: 'h264', TaskId: 'h1' };
    await sdkClient(t.host).start({ ...key, UserId: 'h264-bot', SourceURL: `${pages.url}/tone`, VideoSolutions: [{ Width: 960, Height: 540, FrameRate: 15 }, { Width: 480, Height: 270, FrameRate: 15 }] });
    await waitFor('Status 2', async () => (await getTask(t.host, key))?.Status === 2);
    if (!t.node.worker) throw new Error('no worker');
    const sub = await Subscriber.join(t.node.worker.rooms, { appId: 'app1', roomId: 'h264' }, 'h264-bot', 1);
    try {
      const big = await sub.waitForVideo((v) => v.width === 960 && v.framesDecoded > 10);
      assert.equal(big.codec, 'video/H264');
      assert.deepEqual([big.width, big.height], [960, 540]);
      const colour = await sub.pixel(0.5, 0.8);
      assert.ok(colour.every((c, i) => Math.abs(c - (PAGE_COLOR[i] ?? 0)) <= 16), `decoded ${colour.join(',')}`);
      await sub.setLayer(0);
      const small = await sub.waitForVideo((v) => v.width === 480);
      assert.deepEqual([small.width, small.height], [480, 270]);
    } finally {
      await sub.leave();
    }
  });

  it('lets a WHEP player (a library from npm, in Chromium) watch it: Chromium numbers H.264 otherwise than Janus, so the media relay carries it', async () => {
    const token = TokenSigner.fromDataDir(t.dataDir).sign('viewer', { a: 'app1', r: 'h264', exp: Date.now() + 60_000 });
    const player = await WhepPlayer.play(`${t.url}/whep/app1/h264/h264-bot?layer=0`, token);
    try {
      const v = await player.waitForVideo((x) => x.width === 480 && x.framesDecoded > 10);
      assert.equal(v.codec, 'video/H264');
      assert.deepEqual([v.width, v.height], [480, 270]);
      const colour = await player.pixel(0.5, 0.8);
      assert.ok(colour.every((c, i) => Math.abs(c - (PAGE_COLOR[i] ?? 0)) <= 16), `decoded ${colour.join(',')}`);
    } finally {
      await player.stop();
    }
  });

  it('tells the customer of the first frame, then of the end, in that order', async () => {
    const key = { AppId: 'app1', RoomId: 'h264', TaskId: 'h1' };
    await sdkClient(t.host).stop(key);
    const { receiver } = setup;
    const events = await waitFor('two callbacks', async () => receiver.events().length === 2 && receiver.events());
    assert.deepEqual(events.map((e) => [e.EventType, e.data.Status]), [['WebcastFirstFrame', 2], ['WebcastEnd', 3]]);
    assert.ok(events.every((e) => receiver.signatureValid(e, setup.secret)));
    assert.ok(Date.parse(events[0]?.EventTime ?? '') <= Date.parse(events[1]?.EventTime ?? ''));
  });
});
