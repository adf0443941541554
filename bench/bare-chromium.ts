import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { chromeUserAgent, chromiumArgs } from '../src/capture/cloud-browser.js';

/**
 * A Chromium with a task's switches but none of a task's confinement (no proxy, no sandbox, no
 * uid or cgroup of its own), for the bench's reference figures. Its profile folder names its
 * processes on their command lines; close() removes it.
 */
export async function launchBareChromium(executablePath: string, name: string): Promise<{ browser: Browser; profile: string; close(): Promise<void> }> {
  const profile = mkdtempSync(path.join(tmpdir(), `bench-${name}-`));
  // The pages are on loopback and nothing here loads anything else, so no SSRF proxy.
  const args = [...chromiumArgs({ userDataDir: profile, ownProxyUrl: 'http://127.0.0.1:9', captureTitle: 'none', locale: 'zh-CN', userAgent: chromeUserAgent(156) }).filter((a) => !a.startsWith('--proxy')), '--no-sandbox'];
  try {
    const browser = await chromium.launch({ executablePath, ignoreDefaultArgs: true, args });
    return {
      browser,
      profile,
      async close() {
        await browser.close();
        rmSync(profile, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(profile, { recursive: true, force: true });
    throw err;
  }
}
