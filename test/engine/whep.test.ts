import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { chromium } from 'playwright-core';
import { TokenSigner } from '../../src/console/tokens.js';
import { ACCESS_KEY, SECRET_KEY, getTask, sdkClient, startTestNode, waitFor, type TestNode } from '../helpers/node.js';
import { PAGE_COLOR, TONE_HZ, near, startPageServer, type PageServer } from '../helpers/pages.js';
import { renumberVp8, viewerFeaturesOff, WhepPlayer } from '../helpers/subscriber.js';
import { viewerChromium } from '../helpers/viewer-priority.js';
import { printNodeLogsOnFailure } from '../helpers/failure-logs.js';
import { viewerToken } from '../helpers/viewer-link.js';

interface Envelope {
  ResponseMetadata: { Error?: { Code: string; Message: string } };
  Result?: Record<string, unknown>;
}

/**
 * Watching over WHEP: a player library from npm (whip-whep's WHEPClient) in a headless
 * Chromium on another origin POSTs its offer to our endpoint and decodes the publisher.
 */
describe('watching a publisher with any WHEP player', { timeout: 180_000 }, () => {
  let t: TestNode;
  printNodeLogsOnFailure(() => t);
  let pages: PageServer;
  let token: string;
  const players: WhepPlayer[] = [];
  const key = { AppId: 'app1', RoomId: 'hall', TaskId: 'whep1' };
  const endpoint = (user = 'stage-bot', room = 'hall', query = '') => `${t.url}/whep/app1/${room}/${user}${query}`;

  before(async () => {
    pages = await startPageServer();
    t = await startTestNode({ env: { WEBCAST_WORKER: 'true', WEBCAST_URL_ALLOWLIST: '127.0.0.1', WEBCAST_MAX_TASKS: '3' } });
    const started = await sdkClient(t.host).start({
      ...key,
      UserId: 'stage-bot',
      SourceURL: `${pages.url}/tone`,
      VideoSolutions: [
        // Small layers: a busy encoder drops a big top layer, and then the player gets the small one.
        { Width: 640, Height: 360, FrameRate: 15 },
        { Width: 320, Height: 180, FrameRate: 15 },
      ],
    });
    assert.equal(started.Result, 'ok', JSON.stringify(started.ResponseMetadata.Error));
    await waitFor('Status 2', async () => (await getTask(t.host, key))?.Status === 2, 60_000);
    token = await viewerToken(t.url, { accessKey: ACCESS_KEY, secretKey: SECRET_KEY }, 'app1', 'hall');
  });
  after(async () => {
    await Promise.all(players.map((p) => p.close().catch(() => undefined)));
    await t.close();
    await pages.close();
  });
  /** A real offer, from a browser, without its candidates. */
  const browserOffer = async (): Promise<string> => {
    const browser = await chromium.launch({ executablePath: viewerChromium(), args: ['--no-sandbox', viewerFeaturesOff()] });
    try {
      const page = await browser.newPage();
      return await page.evaluate(async () => {
        const pc = new RTCPeerConnection();
        pc.addTransceiver('audio', { direction: 'recvonly' });
        pc.addTransceiver('video', { direction: 'recvonly' });
        return (await pc.createOffer()).sdp ?? '';
      });
    } finally {
      await browser.close();
    }
  };
  const play = async (url: string, bearer: string | undefined, renumber = false) => {
    const p = await WhepPlayer.play(url, bearer, renumber);
    players.push(p);
    return p;
  };

  /**
   * Sends requests until one is refused as over the limit (429); returns how many were answered
   * in the limiter's current minute, never more than `limit`. The minute is the limiter's own,
   * from this address's first request on the route (this file's players trickle before the
   * test does), so it may roll over while the requests go out: when the count it reports left
   * grows, a new minute began, and the requests are counted afresh.
   */
  const spend = async (limit: number, send: (i: number) => Promise<Response>, expected: number[], message: RegExp) => {
    let answered = 0;
    let sent = 0;
    let left = Infinity;
    for (;;) {
      const res = await send(sent);
      sent += 1;
      if (res.status === 429) {
        const error = ((await res.json()) as Envelope).ResponseMetadata.Error;
        assert.equal(error?.Code, 'FlowLimitExceeded');
        assert.match(error?.Message ?? '', message);
        assert.ok(Number(res.headers.get('retry-after')) > 0, 'it says when to retry');
        return answered;
      }
      await res.arrayBuffer();
      assert.ok(expected.includes(res.status), `answered ${res.status}`);
      const remaining = Number(res.headers.get('x-ratelimit-remaining'));
      assert.ok(Number.isInteger(remaining), 'it says how many are left this minute');
      if (remaining > left) answered = 0;
      left = remaining;
      answered += 1;
      assert.ok(answered <= limit, `request ${limit + 1} of a minute was answered`);
    }
  };

  it('plays the publisher in the player: the larger layer, moving, with the page’s colour and sound', async () => {
    const player = await play(endpoint(), token);
    assert.match(player.resource, new RegExp(`^${t.url}/whep/app1/hall/stage-bot/[0-9a-f-]{36}$`), 'the Location is the session resource');
    const v = await player.waitForVideo((x) => x.width === 640 && x.framesDecoded > 10, 15_000);
    assert.equal(`${v.width}x${v.height}`, '640x360');
    assert.equal(v.codec, 'video/VP8');
    // Moving: the rate itself is Janus's and the publisher's, guarded by the publish test (this file measures no rate).
    const fps = await player.measuredFps(3000);
    assert.ok(fps >= 5, `decoded ${fps.toFixed(1)} fps of 15`);
    const colour = await player.pixel(0.5, 0.8);
    assert.ok(near(colour, PAGE_COLOR), `decoded ${colour.join(',')}, the page is ${PAGE_COLOR.join(',')}`);
    const tone = await player.loudestFrequency(2000);
    assert.ok(Math.abs(tone.hz - TONE_HZ) < 15, `loudest ${tone.hz} Hz`);
  });

  it('chooses the simulcast layer: at the POST (?layer=0), and later through the layer link', async () => {
    const player = await play(endpoint('stage-bot', 'hall', '?layer=0'), token);
    const small = await player.waitForVideo((x) => x.width === 320 && x.framesDecoded > 5, 15_000);
    assert.equal(`${small.width}x${small.height}`, '320x180');
    await player.selectLayer('1');
    const big = await player.waitForVideo((x) => x.width === 640, 15_000);
    assert.equal(`${big.width}x${big.height}`, '640x360');
    const before = big.framesDecoded;
    await new Promise((r) => setTimeout(r, 1000));
    assert.ok((await player.video()).framesDecoded > before, 'frames keep coming after the switch');
  });

  it('lands on the layer asked last when a viewer switches back within a moment of a switch', async () => {
    // Each switch asks the publisher for a keyframe of the new layer, and its WebRTC drops a
    // request that comes within 300 ms of the one before: the switch back, 200 ms after the
    // first one had been made, is asked for in vain the first time.
    const player = await play(endpoint('stage-bot', 'hall', '?layer=0'), token);
    await player.waitForVideo((x) => x.width === 320 && x.framesDecoded > 5, 15_000);
    const switchBack = async (first: string, last: string, width: number) => {
      await new Promise((r) => setTimeout(r, 1000));
      await player.selectLayer(first);
      await new Promise((r) => setTimeout(r, 200));
      await player.selectLayer(last);
      const v = await player.waitForVideo((x) => x.width === width, 5_000);
      assert.equal(v.width, width, `switched to layer ${first}, then back to ${last}: the player decodes ${width} px wide frames within 5 s`);
    };
    await switchBack('1', '0', 320);
    await player.selectLayer('1');
    await player.waitForVideo((x) => x.width === 640, 5_000);
    await switchBack('0', '1', 640);
    await switchBack('0', '1', 640);
  });

  it('plays a player that numbers VP8 otherwise through the media relay, a process whose death ends its viewers and not the node', async () => {
    const player = await play(endpoint(), token, true);
    const v = await player.waitForVideo((x) => x.width === 640 && x.framesDecoded > 10, 15_000);
    assert.equal(`${v.width}x${v.height}`, '640x360');
    assert.equal(v.codec, 'video/VP8');
    const colour = await player.pixel(0.5, 0.8);
    assert.ok(near(colour, PAGE_COLOR), `decoded ${colour.join(',')}, the page is ${PAGE_COLOR.join(',')}`);
    const tone = await player.loudestFrequency(2000);
    assert.ok(Math.abs(tone.hz - TONE_HZ) < 15, `loudest ${tone.hz} Hz`);
    await player.selectLayer('0');
    assert.equal((await player.waitForVideo((x) => x.width === 320, 15_000)).width, 320, 'the layer link works through the relay');

    // Bytes from anyone at the relay's ports (learnt from a session's answer): the viewer it carries plays on.
    const renumbered = renumberVp8(await browserOffer());
    const raw = await fetch(endpoint(), { method: 'POST', headers: { 'content-type': 'application/sdp', authorization: `Bearer ${token}` }, body: renumbered });
    assert.equal(raw.status, 201);
    const ports = [...(await raw.text()).matchAll(/a=candidate:\S+ \d udp \d+ ([\d.]+) (\d+) typ host/g)].map((m) => [m[1] ?? '', Number(m[2])] as const);
    assert.ok(ports.length > 0, 'the relay offers IPv4 candidates');
    const socket = dgram.createSocket('udp4');
    const junk: (() => Buffer)[] = [
      () => Buffer.from([0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42, ...Array<number>(12).fill(1)]), // a STUN request without attributes
      () => Buffer.from([22, 254, 253, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 1, 0, 0, 255]), // a truncated DTLS handshake
      () => Buffer.from([0x80, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 9, 9]), // RTP before any keys
      () => Buffer.from([0x80, 200, 0, 6]), // a cut RTCP sender report
      () => randomBytes(1 + (randomBytes(2).readUInt16BE() % 1200)),
    ];
    for (let i = 0; i < 5000; i += 1) {
      const datagram = junk[i % junk.length]?.() ?? Buffer.alloc(1);
      for (const [ip, port] of ports) socket.send(datagram, port, ip);
      if (i % 250 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    socket.close();
    const before = (await player.video()).framesDecoded;
    await new Promise((r) => setTimeout(r, 1500));
    assert.ok((await player.video()).framesDecoded > before + 5, 'the relayed player decodes on after 5,000 junk datagrams per port');

    const started = t.logs.map((l) => JSON.parse(l) as { msg?: string; pid?: number }).filter((l) => l.msg === 'media relay started');
    const pid = started.at(-1)?.pid;
    assert.ok(pid, 'the relay runs as a process of its own');
    assert.notEqual(pid, process.pid);
    if (process.getuid?.() === 0) {
      const uid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
      assert.equal(uid, '65534', 'a service started as root relays as nobody');
    }
    // No capability of the service's (under the unit they are ambient: test/engine/unprivileged.test.ts
    // checks the same drop for the egress proxy's process), and none to gain.
    const relayStatus = readFileSync(`/proc/${pid}/status`, 'utf8');
    assert.match(relayStatus, /^CapEff:\s+0+$/m, 'the relay holds no capability');
    assert.match(relayStatus, /^NoNewPrivs:\s+1$/m, 'the relay can gain none');
    process.kill(pid, 'SIGKILL');
    await waitFor('the relayed session to end', async () => (await fetch(player.resource, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } })).status === 404, 10_000);
    assert.equal((await getTask(t.host, key))?.Status, 2, 'the node and its task live on');
    // The next player that needs it starts the relay afresh.
    const again = await fetch(endpoint(), { method: 'POST', headers: { 'content-type': 'application/sdp', authorization: `Bearer ${token}` }, body: renumbered });
    assert.equal(again.status, 201);
    assert.notEqual(t.logs.filter((l) => l.includes('"media relay started"')).length, started.length, 'a new relay process');
  });

  it('keeps a session to its room’s token, and ends it when the player stops: its DELETE closes it, and the resource is gone', async () => {
    const player = await play(endpoint(), token);
    await player.waitForVideo((x) => x.framesDecoded > 5, 15_000);
    const resource = player.resource;
    const otherRoom = TokenSigner.fromDataDir(t.dataDir).sign('viewer', { a: 'app1', r: 'other', exp: Date.now() + 60_000 });
    const foreign = await fetch(resource, { method: 'DELETE', headers: { authorization: `Bearer ${otherRoom}` } });
    assert.equal(foreign.status, 403, 'another room’s link cannot end this session');
    // The same session id under another room's path, with that room's own token: no such session there.
    const moved = await fetch(resource.replace('/hall/', '/other/'), { method: 'DELETE', headers: { authorization: `Bearer ${otherRoom}` } });
    assert.equal(moved.status, 404);
    const stale = await fetch(resource, { method: 'PATCH', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/trickle-ice-sdpfrag', 'if-match': '"not-this-one"' }, body: 'a=mid:0\r\na=end-of-candidates\r\n' });
    assert.equal(stale.status, 412, 'a trickle for another version of the session');
    const frames = (await player.video()).framesDecoded;
    await new Promise((r) => setTimeout(r, 1000));
    assert.ok((await player.video()).framesDecoded > frames, 'the session plays on after the refused requests');
    players.splice(players.indexOf(player), 1);
    await player.stop();
    const again = await fetch(resource, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
    assert.equal(again.status, 404);
    assert.match(((await again.json()) as Envelope).ResponseMetadata.Error?.Message ?? '', /ended/);
  });

  it('refuses a player without a token, with a forged, an expired or another room’s token', async () => {
    const signer = TokenSigner.fromDataDir(t.dataDir);
    const forged = new TokenSigner(Buffer.alloc(32, 7)).sign('viewer', { a: 'app1', r: 'hall', exp: Date.now() + 60_000 });
    const expired = signer.sign('viewer', { a: 'app1', r: 'hall', exp: Date.now() - 1000 });
    const otherRoom = signer.sign('viewer', { a: 'app1', r: 'other', exp: Date.now() + 60_000 });
    // The player library sees the status (once is enough: it is the same request below), the envelope says why.
    await assert.rejects(play(endpoint(), expired), /status 401/);
    for (const [bearer, status, code] of [
      [undefined, 401, 'MissingAuthenticationToken'],
      [forged, 401, 'MissingAuthenticationToken'],
      [expired, 401, 'MissingAuthenticationToken'],
      [otherRoom, 403, 'AccessDenied'],
    ] as const) {
      const res = await fetch(endpoint(), { method: 'POST', headers: { 'content-type': 'application/sdp', ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) }, body: 'v=0\r\n' });
      assert.equal(res.status, status);
      assert.equal(((await res.json()) as Envelope).ResponseMetadata.Error?.Code, code);
    }
  });

  it('says why when an offer cannot be played: not SDP, nobody publishing, codecs numbered otherwise', async () => {
    const post = async (url: string, body: string, type = 'application/sdp') => {
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': type, authorization: `Bearer ${token}` }, body });
      return { status: res.status, error: ((await res.json()) as Envelope).ResponseMetadata.Error };
    };
    const notSdp = await post(endpoint(), 'hello');
    assert.equal(notSdp.status, 400);
    assert.match(notSdp.error?.Message ?? '', /offer is not SDP/);
    const json = await post(endpoint(), '{}', 'application/json');
    assert.equal(json.status, 400);
    assert.match(json.error?.Message ?? '', /application\/sdp/);

    const offer = await browserOffer();
    const nobody = await post(endpoint('nobody'), offer);
    assert.equal(nobody.status, 404);
    assert.match(nobody.error?.Message ?? '', /nobody publishes as nobody/);
    // A player that takes no codec the publisher sends: neither joined to Janus nor relayed.
    const noVp8 = offer.replace(/a=rtpmap:96 VP8\/90000/, 'a=rtpmap:96 VP9/90000');
    const refused = await post(endpoint(), noVp8);
    assert.equal(refused.status, 400);
    assert.match(refused.error?.Message ?? '', /cannot receive this publisher's video: it is sent as VP8 as 96/);
  });

  it('takes no more than 60 layer switches and 300 trickle requests a minute from one address; a player switching as fast as that stalls no other viewer', async () => {
    const player = await play(endpoint(), token);
    await player.waitForVideo((x) => x.framesDecoded > 5, 15_000);
    // Another viewer on the big layer: each switch of the player makes Janus ask the publisher
    // for a keyframe (and the node asks again until the layer lands), which this viewer gets too.
    const bystander = await play(endpoint(), token);
    await bystander.waitForVideo((x) => x.width === 640 && x.framesDecoded > 10, 15_000);
    const auth = (i: number): Record<string, string> => (i % 5 === 4 ? {} : { authorization: `Bearer ${token}` });
    // Real switches, to Janus, and some without a token: those count too.
    const during = bystander.measuredFps(4000);
    const switched = await spend(60, (i) => fetch(`${player.resource}/layer`, { method: 'POST', headers: auth(i), body: JSON.stringify({ encodingId: String(i % 2) }) }), [204, 401], /more than 60 WHEP layer switches a minute/);
    assert.ok(switched >= 50, `only ${switched} layer switches answered`);
    const fps = await during;
    assert.ok(fps >= 13.5, `the other viewer kept ${fps.toFixed(1)} of 15 fps while a player switched layers ${switched} times`);
    assert.equal((await bystander.video()).width, 640, 'the other viewer stays on its layer');
    const trickled = await spend(
      300,
      (i) => fetch(player.resource, { method: 'PATCH', headers: { ...auth(i), 'content-type': 'application/trickle-ice-sdpfrag', 'if-match': '"stale"' }, body: 'a=mid:0\r\na=end-of-candidates\r\n' }),
      [412, 401],
      /more than 300 WHEP trickle requests a minute/,
    );
    // This file's players trickle their own candidates too, within the same minute's count.
    assert.ok(trickled >= 250, `only ${trickled} trickle requests answered`);
    const frames = (await player.video()).framesDecoded;
    await new Promise((r) => setTimeout(r, 1000));
    assert.ok((await player.video()).framesDecoded > frames, 'the session plays on');
  });

  // Last: it spends this address's offers for a minute.
  it('takes no more than 30 offers a minute from one address, with or without a token', async () => {
    const answered = await spend(
      30,
      (i) => fetch(endpoint(), { method: 'POST', headers: { 'content-type': 'application/sdp', ...(i % 2 ? { authorization: `Bearer ${token}` } : {}) }, body: 'hello' }),
      [400, 401],
      /more than 30 WHEP offers a minute from this address; retry in/,
    );
    // This file's earlier players used some of the 30.
    assert.ok(answered >= 10, `only ${answered} answered`);
  });
});
