import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { getTask, sdkClient, startTestNode, waitFor, type TestNode } from '../helpers/node.js';
import { GLYPHS, startPageServer, type PageServer } from '../helpers/pages.js';
import { Subscriber } from '../helpers/subscriber.js';

/**
 * Pages look in the cloud as on a customer's screen: Chinese text and emoji in the picture a
 * real subscriber decodes, and the language, time zone and browser a page sees.
 */

const SIZE = { Width: 640, Height: 360, FrameRate: 10 };
// localhost: the look page's cross-site frame.
const workerEnv = { WEBCAST_WORKER: 'true', WEBCAST_URL_ALLOWLIST: '127.0.0.1,localhost' };

describe('what pages look like and see', { timeout: 180_000 }, () => {
  let pages: PageServer;
  before(async () => {
    pages = await startPageServer();
  });
  after(() => pages.close());

  const onAir = async (t: TestNode, TaskId: string, page: string) => {
    const key = { AppId: 'app1', RoomId: `room-${TaskId}`, TaskId };
    assert.equal((await sdkClient(t.host).start({ ...key, UserId: `u-${TaskId}`, SourceURL: `${pages.url}/${page}`, VideoSolutions: [SIZE] })).Result, 'ok');
    await waitFor('on air', async () => (await getTask(t.host, key))?.Status === 2, 30_000);
    return key;
  };

  it('shows Chinese characters as themselves, each unlike the others, and a colour emoji in colour', async () => {
    const t = await startTestNode({ env: workerEnv });
    try {
      const key = await onAir(t, 'glyphs', 'glyphs');
      if (!t.node.worker) throw new Error('no worker');
      const sub = await Subscriber.join(t.node.worker.rooms, { appId: 'app1', roomId: key.RoomId }, `u-${key.TaskId}`);
      try {
        await sub.waitForVideo((v) => v.width === SIZE.Width && v.framesDecoded > 5);
        const n = 12;
        const cells = await Promise.all(GLYPHS.map((_, i) => sub.blocks(i / GLYPHS.length, 0.2, (i + 1) / GLYPHS.length, 0.8, n)));
        const gray = cells.map((blocks) => blocks.map(([r, g, b]) => (r + g + b) / 3));
        // Every character left ink on the white page...
        gray.slice(0, 4).forEach((g, i) => assert.ok(Math.min(...g) < 110, `${GLYPHS[i]} drew nothing (darkest block ${Math.min(...g).toFixed(0)})`));
        // ...and each looks unlike the others: missing-glyph boxes would all look alike.
        for (let a = 0; a < 4; a += 1) {
          for (let b = a + 1; b < 4; b += 1) {
            const diff = (gray[a] ?? []).reduce((s, v, i) => s + Math.abs(v - (gray[b]?.[i] ?? 0)), 0) / (n * n);
            assert.ok(diff > 12, `${GLYPHS[a]} and ${GLYPHS[b]} look alike (mean difference ${diff.toFixed(1)})`);
          }
        }
        // The emoji is in colour, not a black outline or a box.
        const chroma = Math.max(...(cells[4] ?? []).map(([r, g, b]) => Math.max(r, g, b) - Math.min(r, g, b)));
        assert.ok(chroma > 60, `the emoji has no colour (largest chroma ${chroma.toFixed(0)})`);
      } finally {
        await sub.leave();
      }
    } finally {
      await t.close();
    }
  });

  const look = async (env: Record<string, string>, TaskId: string) => {
    const t = await startTestNode({ env: { ...workerEnv, ...env } });
    try {
      const before = pages.reports.length;
      await onAir(t, TaskId, 'look');
      return await waitFor('the page\'s report', async () => pages.reports.length > before && pages.reports.at(-1), 15_000);
    } finally {
      await t.close();
    }
  };

  it('shows pages an ordinary browser in Chinese, in China\'s time zone, by default, with a screen of the page\'s size', async () => {
    const seen = await look({}, 'look-default');
    assert.equal(seen.language, 'zh-CN');
    assert.deepEqual(seen.languages, ['zh-CN', 'zh']);
    assert.equal(seen.acceptLanguage, 'zh-CN,zh;q=0.9');
    assert.equal(seen.timeZone, 'Asia/Shanghai');
    assert.equal(seen.offsetMinutes, -480);
    assert.match(String(seen.userAgent), /^Mozilla\/5\.0 \(X11; Linux x86_64\) AppleWebKit\/537\.36 \(KHTML, like Gecko\) Chrome\/\d+\.0\.0\.0 Safari\/537\.36$/);
    assert.equal(seen.webdriver, false);
    // A desktop with a mouse, notifications not yet asked, the PDF viewer and window.chrome, as in Chrome.
    assert.deepEqual(seen.mouse, [true, true, true, true]);
    assert.deepEqual(seen.permissions, ['default', true, true, 'object']);
    assert.deepEqual(seen.screen, [SIZE.Width, SIZE.Height, SIZE.Width, SIZE.Height]);
    assert.deepEqual(seen.inner, [SIZE.Width, SIZE.Height]);
    // userAgentData as Chrome fills it without a User-Agent switch: high entropy too, everywhere the page reaches.
    const uaData = seen.uaData as { brands: { brand: string; version: string }[]; fullVersionList: { brand: string; version: string }[]; uaFullVersion: string };
    const major = /Chrome\/(\d+)\./.exec(String(seen.userAgent))?.[1];
    assert.ok(uaData.brands.some((b) => b.brand === 'Chromium' && b.version === major), JSON.stringify(uaData.brands));
    assert.match(uaData.uaFullVersion, new RegExp(`^${major}\\.\\d+\\.\\d+\\.\\d+$`));
    assert.deepEqual(uaData.fullVersionList.map((b) => b.brand), uaData.brands.map((b) => b.brand));
    for (const [i, b] of uaData.fullVersionList.entries()) assert.match(b.version, new RegExp(`^${uaData.brands[i]?.version}\\.\\d+\\.\\d+\\.\\d+$`));
    assert.deepEqual(seen.uaData, { ...uaData, mobile: false, platform: 'Linux', architecture: 'x86', bitness: '64', formFactors: ['Desktop'] });
    const everywhere = { language: 'zh-CN', timeZone: 'Asia/Shanghai', userAgent: seen.userAgent, uaData: seen.uaData };
    assert.deepEqual(seen.worker, everywhere);
    assert.deepEqual(seen.serviceWorker, everywhere);
    assert.deepEqual(seen.crossSiteFrame, everywhere);
  });

  it('shows them the language, time zone and User-Agent the node is set to', async () => {
    const ua = 'Mozilla/5.0 (X11; Linux x86_64) ExampleBrowser/1.0';
    const seen = await look({ WEBCAST_BROWSER_LOCALE: 'en-US', WEBCAST_BROWSER_TIMEZONE: 'America/New_York', WEBCAST_BROWSER_USER_AGENT: ua }, 'look-set');
    assert.deepEqual([seen.language, seen.acceptLanguage, seen.timeZone, seen.offsetMinutes, seen.userAgent], ['en-US', 'en-US,en;q=0.9', 'America/New_York', 300, ua]);
  });
});
