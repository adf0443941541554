import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { chromeUserAgent, chromiumArgs } from '../src/capture/cloud-browser.js';
import { fitWindow } from '../src/capture/page-window.js';
import { chromiumRole, measureCores, pidsWhere, tree } from '../test/helpers/procfs.js';

/**
 * What the same page costs in the same headless Chromium, with the same switches, when it is
 * shown at the same size but nobody captures it: the reference that tells how much of our
 * Chromium's cost is the capture itself.
 */
export async function uncapturedCost(executablePath: string, url: string, width: number, height: number, ms: number): Promise<{ cores: number; gpu: number; renderers: number }> {
  const profile = mkdtempSync(path.join(tmpdir(), 'bench-uncaptured-'));
  // The page is on loopback and nothing here loads anything else, so no SSRF proxy.
  const args = [...chromiumArgs({ userDataDir: profile, ownProxyUrl: 'http://127.0.0.1:9', captureTitle: 'none', locale: 'zh-CN', userAgent: chromeUserAgent(156) }).filter((a) => !a.startsWith('--proxy')), '--no-sandbox'];
  const browser = await chromium.launch({ executablePath, ignoreDefaultArgs: true, args });
  try {
    const context = await browser.newContext({ viewport: null });
    const page = await context.newPage();
    await page.goto(url);
    await fitWindow(context, page, width, height);
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
