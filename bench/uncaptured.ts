import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { chromiumArgs } from '../src/capture/cloud-browser.js';
import { chromiumRole, measureCores, pidsWhere, tree } from './proc.js';

/**
 * What the same page costs in the same headless Chromium, with the same switches, when it is
 * shown at the same size but nobody captures it: the reference that tells how much of our
 * Chromium's cost is the capture itself.
 */
export async function uncapturedCost(url: string, width: number, height: number, ms: number): Promise<{ cores: number; gpu: number; renderers: number }> {
  const profile = mkdtempSync(path.join(tmpdir(), 'bench-uncaptured-'));
  // The page is on loopback and nothing here loads anything else, so no SSRF proxy.
  const args = chromiumArgs(profile, 'http://127.0.0.1:9').filter((a) => !a.startsWith('--proxy'));
  const browser = await chromium.launch({ executablePath: process.env.WEBCAST_CHROMIUM_PATH ?? '/usr/bin/chromium', ignoreDefaultArgs: true, args });
  try {
    const context = await browser.newContext({ viewport: null });
    const page = await context.newPage();
    await page.goto(url);
    const cdp = await context.newCDPSession(page);
    const { windowId } = (await cdp.send('Browser.getWindowForTarget')) as { windowId: number };
    for (let i = 0; i < 3; i += 1) {
      const [w, h] = await page.evaluate(() => [window.innerWidth, window.innerHeight] as const);
      const { bounds } = (await cdp.send('Browser.getWindowBounds', { windowId })) as { bounds: { width: number; height: number } };
      await cdp.send('Browser.setWindowBounds', { windowId, bounds: { left: 0, top: 0, width: bounds.width + width - w, height: bounds.height + height - h } });
      await new Promise((r) => setTimeout(r, 300));
    }
    await new Promise((r) => setTimeout(r, 3000));
    const all = () => tree(pidsWhere((c) => c.includes(`user-data-dir=${profile}`) && !c.includes('--type=')));
    const [total, gpu, renderers] = await Promise.all([
      measureCores(all, ms),
      measureCores(() => all().filter((p) => chromiumRole(p) === 'gpu-process'), ms),
      measureCores(() => all().filter((p) => chromiumRole(p) === 'renderer'), ms),
    ]);
    return { cores: total.cores, gpu: gpu.cores, renderers: renderers.cores };
  } finally {
    await browser.close();
    rmSync(profile, { recursive: true, force: true });
  }
}
