import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ACCESS_KEY, SECRET_KEY, startTestNode, waitFor, type TestNode } from '../helpers/node.js';
import { printNodeLogsOnFailure } from '../helpers/failure-logs.js';
import { startPageServer, type PageServer } from '../helpers/pages.js';
import { viewerFeaturesOff } from '../helpers/subscriber.js';

const LAN_ADDRESS = Object.values(networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal)?.address;

/** What a person does in the console, in a real browser: the same Debian Chromium the service uses. */
describe('the web console in a browser', { timeout: 240_000 }, () => {
  let t: TestNode;
  let pages: PageServer;
  let browser: Browser;
  let page: Page;
  printNodeLogsOnFailure(() => t);
  before(async () => {
    pages = await startPageServer();
    // Media is offered on this machine's own network address too, as for viewers on other machines.
    t = await startTestNode({ env: { WEBCAST_WORKER: 'true', WEBCAST_URL_ALLOWLIST: '127.0.0.1', ...(LAN_ADDRESS ? { WEBCAST_JANUS_ICE_INTERFACES: LAN_ADDRESS } : {}) } });
    browser = await chromium.launch({
      executablePath: process.env.WEBCAST_CHROMIUM_PATH ?? '/usr/bin/chromium',
      // Janus offers loopback candidates only; the browser must be allowed to use them.
      args: ['--no-sandbox', '--disable-gpu', '--allow-loopback-in-peer-connection', viewerFeaturesOff('WebRtcHideLocalIpsWithMdns'), '--autoplay-policy=no-user-gesture-required'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  });
  after(async () => {
    await browser?.close();
    await t.close();
    await pages.close();
  });

  const signIn = async (p: Page, secret: string) => {
    await p.goto(`${t.url}/`);
    await p.fill('input[name=accessKey]', ACCESS_KEY);
    await p.fill('input[name=secretKey]', secret);
    await p.click('button[type=submit]');
  };

  /** The decoded picture, sampled: its mean brightness, and a fingerprint to tell two frames apart. */
  const videoFrame = (p: Page) =>
    p.evaluate(() => {
      const v = document.querySelector('video');
      if (!v || !v.videoWidth) return undefined;
      const c = document.createElement('canvas');
      c.width = 64;
      c.height = 36;
      const g = c.getContext('2d');
      if (!g) return undefined;
      g.drawImage(v, 0, 0, 64, 36);
      const data = [...g.getImageData(0, 0, 64, 36).data].filter((_, i) => i % 4 !== 3);
      return { mean: data.reduce((a, b) => a + b, 0) / data.length, data };
    });

  it('refuses a wrong secret key and sets no session', async () => {
    await signIn(page, 'not-the-secret-key-at-all');
    await page.waitForSelector('[data-testid=error]');
    assert.match(await page.textContent('[data-testid=error]') ?? '', /access key or the secret key is wrong/);
    assert.deepEqual((await page.context().cookies()).map((c) => c.name), []);
    assert.equal((await page.request.get(`${t.url}/console/api/tasks`)).status(), 401);
  });

  it('starts a task from the form, shows it Running in the list, plays it in the room viewer with both layers, and stops it', async () => {
    await signIn(page, SECRET_KEY);
    await page.waitForSelector('[data-testid=who]');
    const cookie = (await page.context().cookies()).find((c) => c.name === 'webcast_console');
    assert.ok(cookie?.httpOnly && cookie.sameSite === 'Strict', 'the session is an HttpOnly, SameSite=Strict cookie');
    assert.ok(!cookie.value.includes(SECRET_KEY));

    await page.click('text=Start a webcast >> nth=0');
    // An empty form is no error: a required field turns red only once the user has typed in it.
    const border = (name: string) => page.locator(`input[name=${name}]`).evaluate((i) => getComputedStyle(i).borderTopColor);
    assert.notEqual(await border('RoomId'), 'rgb(198, 40, 40)', 'an untouched empty field is not red');
    await page.fill('input[name=RoomId]', 'no spaces allowed');
    await page.locator('input[name=RoomId]').blur();
    assert.equal(await border('RoomId'), 'rgb(198, 40, 40)', 'a wrong value is');
    await page.fill('input[name=RoomId]', '');
    // As a browser's autofill does: several fields at once, before the form renders again.
    await page.evaluate(() => {
      for (const [name, value] of [['AppId', 'console'], ['RoomId', 'room1'], ['TaskId', 'board'], ['UserId', 'board-bot']] as const) {
        const input = document.querySelector<HTMLInputElement>(`input[name=${name}]`);
        if (!input) throw new Error(`no ${name} field`);
        input.value = value;
        input.dispatchEvent(new Event('input', { bubbles: true }));
      }
    });
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(
      await Promise.all(['AppId', 'RoomId', 'TaskId', 'UserId'].map((n) => page.inputValue(`input[name=${n}]`))),
      ['console', 'room1', 'board', 'board-bot'],
      'every autofilled field keeps its value',
    );
    await page.fill('input[name=SourceURL]', `${pages.url}/tone`);
    await page.click('text=+ a second simulcast layer');
    // Small layers: beside another test file, a 2-core machine's publisher can pause a 1280x720
    // layer for want of bandwidth estimate (CI once saw only the small one for 15 s).
    for (const [name, value] of [['Width0', '640'], ['Height0', '360'], ['Width1', '320'], ['Height1', '180']] as const) await page.fill(`input[name=${name}]`, value);
    // The browser checks the ranges it knows...
    await page.fill('input[name=MaxRunningTime]', '5');
    assert.equal(await page.locator('input[name=MaxRunningTime]').evaluate((i: HTMLInputElement) => i.validity.rangeUnderflow), true);
    await page.fill('input[name=MaxRunningTime]', '');
    // ...and the service checks everything, shown as it says it, with nothing started.
    await page.fill('input[name=SourceURL]', 'ftp://example.com/board');
    await page.click('button[type=submit]');
    await page.waitForSelector('[data-testid=error]');
    assert.match(await page.textContent('[data-testid=error]') ?? '', /InvalidParameter: SourceURL must be an absolute http:\/\/ or https:\/\/ URL/);
    assert.equal((await page.request.get(`${t.url}/console/api/tasks?AppId=console`).then((r) => r.json()) as { Result: { WebCastTasks: unknown[] } }).Result.WebCastTasks.length, 0);
    await page.fill('input[name=SourceURL]', `${pages.url}/tone`);
    assert.equal(await page.locator('[data-testid=error]').count(), 0, 'the service\'s answer goes once the form is edited');
    await page.click('button[type=submit]');
    await page.waitForURL(/#\/tasks\/console\/room1\/board$/);
    await page.locator('text=640×360 @ 15 fps, adaptive · 320×180 @ 15 fps, adaptive').waitFor({ timeout: 10_000 });

    await page.click('text=Tasks >> nth=0');
    const row = page.locator('tr[data-task=board]');
    await row.locator('text=Running').waitFor({ timeout: 30_000 });
    assert.match(await row.textContent() ?? '', /board.*room1.*console.*board-bot.*Running/);

    await row.locator('a', { hasText: 'board' }).click();
    const thumb = page.locator('[data-testid=thumbnail]');
    await waitFor('a thumbnail', async () => (await thumb.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)) === 480, 15_000);

    await page.click('text=Watch the room');
    await page.waitForSelector('[data-testid=resolution]', { timeout: 20_000 });
    let shown = '';
    const shows = (size: string) => async () => {
      const text = await page.textContent('[data-testid=resolution]');
      return text === size || (shown = text ?? '', false);
    };
    await waitFor('the big layer', shows('640×360'), 20_000).catch((err: Error) => assert.fail(`${err.message}; the viewer shows ${shown}`));
    // The size, rate and bitrate sit below the picture, not over its top-left corner.
    const [videoBox, statsBox] = await Promise.all([page.locator('[data-testid=video]').boundingBox(), page.locator('[data-testid=stats]').boundingBox()]);
    assert.ok(videoBox && statsBox && statsBox.y >= videoBox.y + videoBox.height, 'the stats are below the video');
    const first = await waitFor('a decoded frame', () => videoFrame(page), 10_000);
    assert.ok(first.mean > 40, `the picture is not black: mean ${first.mean.toFixed(1)}`);
    // The test page's marker moves: two frames a moment apart differ.
    await new Promise((r) => setTimeout(r, 700));
    const second = await videoFrame(page);
    const changed = second ? second.data.filter((v, i) => Math.abs(v - (first.data[i] ?? 0)) > 24).length : 0;
    assert.ok(changed > 10, `the picture moves: ${changed} samples changed`);

    await page.click('[data-testid=layer-small]');
    await waitFor('the small layer', shows('320×180'), 20_000).catch((err: Error) => assert.fail(`${err.message}; the viewer shows ${shown}`));
    await page.click('[data-testid=layer-big]');
    await waitFor('the big layer again', shows('640×360'), 20_000).catch((err: Error) => assert.fail(`${err.message}; the viewer shows ${shown}`));

    await page.goto(`${t.url}/console#/tasks/console/room1/board`);
    // Stop asks first; Cancel leaves the task on air.
    await page.click('[data-testid=stop]');
    await page.click('[data-testid=stop-confirm] >> text=Cancel');
    await new Promise((r) => setTimeout(r, 500));
    assert.match(await page.textContent('[data-testid=status]') ?? '', /Running/);
    await page.click('[data-testid=stop]');
    await page.click('[data-testid=stop-yes]');
    await page.locator('[data-testid=status]', { hasText: 'Ended · StopByAPI' }).waitFor({ timeout: 10_000 });
    await page.locator('[data-testid=timeline] [data-event=WebcastEnd]').waitFor();
    assert.match(await page.textContent('[data-testid=timeline]') ?? '', /First frame published.*Ended · StopByAPI/);
  });

  it('fits a phone: at 390 px nothing leaves the screen, and the page has an icon', async () => {
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 } });
    try {
      await phone.context().addCookies(await page.context().cookies());
      for (const route of ['#/tasks', '#/tasks/console/room1/board', '#/start', '#/nodes']) {
        await phone.goto(`${t.url}/console${route}`);
        await phone.waitForSelector('[data-testid=who]');
        await new Promise((r) => setTimeout(r, 300));
        const signOut = await phone.locator('text=Sign out').boundingBox();
        assert.ok(signOut && signOut.x + signOut.width <= 390, `${route}: Sign out is on the screen (right edge ${signOut ? signOut.x + signOut.width : '?'})`);
        const overflow = await phone.evaluate(() => document.documentElement.scrollWidth);
        assert.ok(overflow <= 390, `${route}: the page is ${overflow} px wide`);
      }
      const icon = await phone.request.get(`${t.url}/favicon.ico`);
      assert.equal(icon.status(), 200);
      assert.match(icon.headers()['content-type'] ?? '', /image\/svg\+xml/);
    } finally {
      await phone.close();
    }
  });

  it('shows the nodes to a key allowed every app: this worker, its tasks of its capacity, its heartbeat', async () => {
    await page.goto(`${t.url}/console#/nodes`);
    await page.waitForSelector('[data-testid=nodes] tbody tr');
    const row = (await page.textContent('[data-testid=nodes] tbody tr')) ?? '';
    const nodeId = readFileSync(path.join(t.dataDir, 'node-id'), 'utf8').trim();
    assert.ok(row.includes(nodeId), row);
    assert.match(row, new RegExp(`worker.*\\d+ of ${t.config.maxTasks}.*\\d+ s ago.*up`));
    assert.equal(await page.locator('nav >> text=Nodes').count(), 1);
  });

  it('says on a waiting task\'s page its place in line and when it ends at the latest', async () => {
    const full = await startTestNode({ env: { WEBCAST_WORKER: 'true', WEBCAST_URL_ALLOWLIST: '127.0.0.1', WEBCAST_MAX_TASKS: '1' } });
    const other = await browser.newPage();
    try {
      const signedIn = await other.request.post(`${full.url}/console/api/session`, { headers: { 'x-webcast-console': '1' }, data: { AccessKey: ACCESS_KEY, SecretKey: SECRET_KEY } });
      assert.equal(signedIn.status(), 200);
      for (const TaskId of ['first', 'second']) {
        const started = await other.request.post(`${full.url}/console/api/tasks`, { headers: { 'x-webcast-console': '1' }, data: { AppId: 'console', RoomId: 'line', TaskId, UserId: `bot-${TaskId}`, SourceURL: `${pages.url}/tone`, VideoSolutions: [{ Width: 320, Height: 180, FrameRate: 10 }] } });
        assert.equal(started.status(), 200, await started.text());
      }
      await other.goto(`${full.url}/console#/tasks/console/line/second`);
      const place = other.locator('[data-testid=place-in-line]');
      await place.waitFor({ timeout: 15_000 });
      assert.match(await place.textContent() ?? '', /Waiting for a free slot: #1 in line\. Its MaxRunningTime runs while it waits: it ends at .+ at the latest\./);
      assert.match(await other.textContent('[data-testid=timeline]') ?? '', /Waiting for a free slot · #1 in line/);
    } finally {
      await other.close();
      await full.close();
    }
  });

  it('says on a failed task\'s page why it failed, naming the setting that would allow it', async () => {
    const started = await page.request.post(`${t.url}/console/api/tasks`, {
      headers: { 'x-webcast-console': '1' },
      data: { AppId: 'console', RoomId: 'room1', TaskId: 'private', UserId: 'bot', SourceURL: 'http://10.1.2.3/board' },
    });
    assert.equal(started.status(), 200, await started.text());
    await page.goto(`${t.url}/console#/tasks/console/room1/private`);
    const why = page.locator('[data-testid=failure-detail]');
    await why.waitFor({ timeout: 20_000 });
    assert.match(await why.textContent() ?? '', /Why it failed: 10\.1\.2\.3: 10\.1\.2\.3 is a private address, which webcast pages may not reach unless the node's WEBCAST_URL_ALLOWLIST opens it/);
  });

  it('shares a room through a link that works without an account, only with its token and only for its room', async () => {
    const started = await page.request.post(`${t.url}/console/api/tasks`, {
      headers: { 'x-webcast-console': '1' },
      data: { AppId: 'console', RoomId: 'shared', TaskId: 'demo', UserId: 'demo-bot', SourceURL: `${pages.url}/tone` },
    });
    assert.equal(started.status(), 200, await started.text());
    await page.goto(`${t.url}/console#/rooms/console/shared`);
    await page.click('[data-testid=share]');
    const url = await page.inputValue('[data-testid=share-url]');
    assert.match(url, /\/view#[\w-]+\.[\w-]+$/);
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: t.url });
    await page.click('[data-testid=copy]');
    await page.locator('[data-testid=copy]', { hasText: 'Copied' }).waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), url, 'Copy puts the link on the clipboard');

    const stranger = await browser.newContext();
    try {
      const view = await stranger.newPage();
      await view.goto(url);
      await waitFor('the shared room to play', async () => (await view.textContent('[data-testid=resolution]').catch(() => null))?.includes('×'), 30_000);
      const frame = await waitFor('a decoded frame', () => videoFrame(view), 10_000);
      assert.ok(frame.mean > 40);
      // A viewer on another machine needs an address other than loopback in Janus's offer.
      const token0 = url.split('#')[1] ?? '';
      const offer = await view.evaluate(async () => {
        const pc = new RTCPeerConnection();
        pc.addTransceiver('audio', { direction: 'recvonly' });
        pc.addTransceiver('video', { direction: 'recvonly' });
        return (await pc.createOffer()).sdp ?? '';
      });
      const whep = await view.request.post(`${t.url}/whep/console/shared/demo-bot`, { headers: { authorization: `Bearer ${token0}`, 'content-type': 'application/sdp' }, data: offer });
      assert.equal(whep.status(), 201);
      const answer = await whep.text();
      const addresses = new Set([...answer.matchAll(/a=candidate:\S+ \d \w+ \d+ (\S+) \d+ typ host/g)].map((m) => m[1]));
      if (LAN_ADDRESS) assert.ok(addresses.has(LAN_ADDRESS), `offered ${[...addresses].join(', ')}; expected ${LAN_ADDRESS}`);
      await view.request.delete(`${t.url}${whep.headers().location ?? ''}`, { headers: { authorization: `Bearer ${token0}` } });
      // The stranger has no session: the console itself stays closed.
      assert.equal((await view.request.get(`${t.url}/console/api/tasks`)).status(), 401);

      await view.goto(`${t.url}/view`);
      await view.waitForSelector('[data-testid=error]');
      const token = url.split('#')[1] ?? '';
      const asOther = await view.request.get(`${t.url}/console/api/rooms/console/room1/publishers`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(asOther.status(), 403);
      assert.match(await asOther.text(), /AccessDenied.*another room/);
      // Naming another room inside the token breaks its signature.
      const [payload, mac] = token.split('.');
      const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString()) as { r: string };
      const forged = `${Buffer.from(JSON.stringify({ ...claims, r: 'room1' })).toString('base64url')}.${mac}`;
      const forgedCall = await view.request.get(`${t.url}/console/api/rooms/console/room1/publishers`, { headers: { authorization: `Bearer ${forged}` } });
      assert.equal(forgedCall.status(), 401);
      await view.goto(`${t.url}/view#${forged}`);
      await view.waitForSelector('[data-testid=error]');
      assert.match(await view.textContent('[data-testid=error]') ?? '', /not valid or has expired/);
    } finally {
      await stranger.close();
    }
  });
});
