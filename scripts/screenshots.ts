/**
 * Takes the console screenshots in docs/: a real node (Chromium, Janus) publishing two demo
 * pages, and the console in a real browser.   npx tsx scripts/screenshots.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { createNode } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';

const ACCESS_KEY = 'AKDEMO00000000000001';
const SECRET_KEY = 'demo-secret-key-for-screenshots';
const DOCS = new URL('../docs/', import.meta.url);

const slide = (title: string, hue: number) => `<!doctype html><meta charset=utf-8><title>${title}</title>
<body style="margin:0;font:600 64px system-ui;color:#fff;background:linear-gradient(135deg,hsl(${hue},70%,35%),hsl(${hue + 40},70%,20%));height:100vh;overflow:hidden">
<div style="padding:80px">${title}<div style="font-size:32px;font-weight:400;opacity:.8;margin-top:16px" id=t></div></div>
<div id=bar style="position:absolute;left:80px;bottom:100px;height:24px;border-radius:12px;background:#fff8"></div>
<script>
let n = 0;
(function step() { n++; document.getElementById('t').textContent = new Date().toLocaleTimeString() + ' · frame ' + n;
  document.getElementById('bar').style.width = (n * 3 % 1000) + 'px'; requestAnimationFrame(step); })();
const ctx = new AudioContext(); const o = ctx.createOscillator(); const g = ctx.createGain(); g.gain.value = 0.05; o.connect(g).connect(ctx.destination); o.start();
</script>`;

const pages = createServer((req, res) => {
  res.setHeader('content-type', 'text/html');
  res.end(req.url?.startsWith('/dashboard') ? slide('Operations dashboard', 160) : slide('Quarterly keynote', 220));
});
await new Promise<void>((r) => pages.listen(0, '127.0.0.1', r));
const pageUrl = `http://127.0.0.1:${(pages.address() as AddressInfo).port}`;

const dataDir = mkdtempSync(path.join(tmpdir(), 'webcast-shots-'));
const config = loadConfig({ WEBCAST_DATA_DIR: dataDir, WEBCAST_PORT: '0', WEBCAST_ACCESS_KEY: ACCESS_KEY, WEBCAST_SECRET_KEY: SECRET_KEY, WEBCAST_URL_ALLOWLIST: '127.0.0.1' });
const node = await createNode(config, createLogger({ level: 'warn' }));
const url = await node.server.listen({ host: '127.0.0.1', port: 0 });
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--allow-loopback-in-peer-connection', '--disable-features=WebRtcHideLocalIpsWithMdns', '--autoplay-policy=no-user-gesture-required'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 }, deviceScaleFactor: 1 });
  const shot = async (name: string) => {
    await page.evaluate(() => scrollTo(0, 0));
    await page.screenshot({ path: new URL(name, DOCS).pathname, fullPage: true });
    process.stdout.write(`docs/${name}\n`);
  };
  await page.goto(`${url}/`);
  await page.fill('input[name=accessKey]', ACCESS_KEY);
  await shot('console-sign-in.png');
  await page.fill('input[name=secretKey]', SECRET_KEY);
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-testid=who]');

  const start = (body: Record<string, unknown>) => page.request.post(`${url}/console/api/tasks`, { headers: { 'x-webcast-console': '1' }, data: body });
  await start({ AppId: 'demo', RoomId: 'town-hall', TaskId: 'rehearsal', UserId: 'keynote-bot', SourceURL: `${pageUrl}/keynote?token=secret` });
  await page.request.post(`${url}/console/api/tasks/demo/town-hall/rehearsal/stop`, { headers: { 'x-webcast-console': '1' } });
  await start({ AppId: 'demo', RoomId: 'ops', TaskId: 'broken-link', UserId: 'dash-bot', SourceURL: 'http://127.0.0.1:9/gone' });
  await start({
    AppId: 'demo', RoomId: 'ops', TaskId: 'dashboard', UserId: 'dash-bot', SourceURL: `${pageUrl}/dashboard`,
    VideoSolutions: [{ Width: 1280, Height: 720, FrameRate: 15 }], MonitorConfig: { BlankCheckInterval: 5, FreezeCheckInterval: 5 },
  });
  await start({
    AppId: 'demo', RoomId: 'town-hall', TaskId: 'keynote', UserId: 'keynote-bot', SourceURL: `${pageUrl}/keynote`, MaxRunningTime: 7200,
    VideoSolutions: [{ Width: 1280, Height: 720, FrameRate: 30, Bitrate: 2500 }, { Width: 640, Height: 360, FrameRate: 15 }],
  });
  await page.goto(`${url}/console#/`);
  await page.locator('tr[data-task=keynote] >> text=Running').waitFor({ timeout: 60_000 });
  await page.locator('tr[data-task=dashboard] >> text=Running').waitFor({ timeout: 60_000 });
  await page.locator('tr[data-task=broken-link] >> text=Failed').waitFor({ timeout: 60_000 });
  await shot('console-tasks.png');

  await page.goto(`${url}/console#/start`);
  await page.fill('input[name=AppId]', 'demo');
  await page.fill('input[name=RoomId]', 'town-hall');
  await page.fill('input[name=SourceURL]', 'https://example.com/whiteboard');
  await page.click('text=+ a second simulcast layer');
  await shot('console-start.png');

  await page.goto(`${url}/console#/tasks/demo/town-hall/keynote`);
  await page.waitForFunction(() => (document.querySelector('[data-testid=thumbnail]') as HTMLImageElement | null)?.naturalWidth === 480, undefined, { timeout: 20_000 });
  await shot('console-task.png');

  await page.goto(`${url}/console#/rooms/demo/town-hall`);
  await page.waitForFunction(() => document.querySelector('[data-testid=resolution]')?.textContent === '1280×720', undefined, { timeout: 30_000 });
  await page.click('[data-testid=share]');
  await page.waitForSelector('[data-testid=share-url]');
  await page.waitForTimeout(1500);
  await shot('console-room.png');
} finally {
  await browser.close();
  await node.close();
  pages.close();
  rmSync(dataDir, { recursive: true, force: true });
}
