import { launchBareChromium } from './bare-chromium.js';
import { fitWindow } from '../src/capture/page-window.js';
import { chromiumRole, measureCores, pidsWhere, tree } from '../test/helpers/procfs.js';

/**
 * What the same page costs in the same headless Chromium, with the same switches, when it is
 * shown at the same size but nobody captures it: the reference that tells how much of our
 * Chromium's cost is the capture itself.
 */
export async function uncapturedCost(executablePath: string, url: string, width: number, height: number, ms: number): Promise<{ cores: number; gpu: number; renderers: number }> {
  const { browser, profile, close } = await launchBareChromium(executablePath, 'uncaptured');
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
    await close();
  }
}
