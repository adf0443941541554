import type { BrowserContext, CDPSession, Page } from 'playwright-core';

/** A page's browser window, driven through CDP: tab capture sees the real window, not an emulated viewport. */

/** The page's inner size, as the page itself sees it. */
export const pageInnerSize = (page: Page): Promise<[number, number]> => page.evaluate(() => [window.innerWidth, window.innerHeight] as [number, number]);

async function withWindow<T>(context: BrowserContext, page: Page, fn: (cdp: CDPSession, windowId: number) => Promise<T>): Promise<T> {
  const cdp = await context.newCDPSession(page);
  try {
    const { windowId } = (await cdp.send('Browser.getWindowForTarget')) as { windowId: number };
    return await fn(cdp, windowId);
  } finally {
    await cdp.detach().catch(() => undefined);
  }
}

const setState = (cdp: CDPSession, windowId: number, windowState: 'normal' | 'minimized') =>
  cdp.send('Browser.setWindowBounds', { windowId, bounds: { windowState } });

/**
 * Resizes the page's window until the page inside is exactly width x height, or throws. A
 * minimized window is restored to be resized (Chromium resizes only a normal one) and
 * minimized again after.
 */
export async function fitWindow(context: BrowserContext, page: Page, width: number, height: number): Promise<void> {
  // Mostly it fits already (a page that just loaded, the watch's check): no CDP session then.
  const [w0, h0] = await pageInnerSize(page);
  if (w0 === width && h0 === height) return;
  await withWindow(context, page, async (cdp, windowId) => {
    let restored = false;
    // Each pass learns how much the window's frame (and the "sharing this tab" bar) takes.
    // Windows stay at the screen's origin: cascaded ones would be clamped by its edge.
    for (let i = 0; i < 5; i += 1) {
      const [w, h] = await pageInnerSize(page);
      if (w === width && h === height) break;
      const { bounds } = (await cdp.send('Browser.getWindowBounds', { windowId })) as { bounds: { width: number; height: number; windowState: string } };
      if (bounds.windowState === 'minimized') {
        await setState(cdp, windowId, 'normal');
        restored = true;
      }
      await cdp.send('Browser.setWindowBounds', { windowId, bounds: { left: 0, top: 0, width: bounds.width + width - w, height: bounds.height + height - h } });
      // The page learns its new size a moment later.
      const deadline = Date.now() + 1000;
      while (Date.now() < deadline) {
        const [nw, nh] = await pageInnerSize(page);
        if (nw !== w || nh !== h) break;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    const [w, h] = await pageInnerSize(page);
    if (w !== width || h !== height) throw new Error(`the page window is ${w}x${h}, not ${width}x${height}`);
    if (restored) await setState(cdp, windowId, 'minimized');
  });
}

/**
 * While its window is shown, Chromium's software compositor copies the whole captured tab
 * into the window on every frame the page draws (60 a second), whatever the capture rate.
 * A minimized window is not composited: a captured page goes on as if shown (visibilityState
 * stays 'visible', animation frames at full rate), for about half the GPU process's CPU.
 */
export async function minimizeWindow(context: BrowserContext, page: Page): Promise<void> {
  await withWindow(context, page, (cdp, windowId) => setState(cdp, windowId, 'minimized'));
}

/** Shows a minimized window again: a tab is captured, and its "sharing this tab" bar fitted, while shown. */
export async function showWindow(context: BrowserContext, page: Page): Promise<void> {
  await withWindow(context, page, (cdp, windowId) => setState(cdp, windowId, 'normal'));
}

/**
 * Makes the page see a screen of exactly its own size, as a page shown full screen on a
 * customer's display would (the browser's virtual screen is 4K, so that windows fit). The
 * override lives as long as the returned session stays attached, across navigations.
 */
export async function screenOfPageSize(context: BrowserContext, page: Page, width: number, height: number): Promise<CDPSession> {
  const cdp = await context.newCDPSession(page);
  // A zero width, height and scale leave the page's own size alone: only the screen changes.
  await cdp.send('Emulation.setDeviceMetricsOverride', { width: 0, height: 0, deviceScaleFactor: 0, mobile: false, screenWidth: width, screenHeight: height });
  return cdp;
}
