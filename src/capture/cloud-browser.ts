import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';
import type { Logger } from 'pino';

/**
 * The tab Chromium captures is chosen by its title at the moment of capture: the page to
 * capture wears this title, and only one page at a time (see `withCaptureTitle`). It is new
 * for every process, so that no page can dress up as a capture target.
 */
export const CAPTURE_TITLE = `webcast-capture-${randomBytes(8).toString('hex')}`;

export interface CloudBrowserOptions {
  executablePath: string;
  /** Where throwaway profiles go. */
  dataDir: string;
  /** All page traffic goes through this proxy (the SSRF guard). */
  proxyUrl: string;
  log: Logger;
}

export function chromiumArgs(userDataDir: string, proxyUrl: string): string[] {
  return [
    '--headless',
    '--remote-debugging-pipe',
    `--user-data-dir=${userDataDir}`,
    '--no-startup-window',
    '--no-sandbox',
    '--disable-gpu',
    '--no-first-run',
    '--no-default-browser-check',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-default-apps',
    '--disable-extensions',
    '--disable-quic',
    '--disable-client-side-phishing-detection',
    '--disable-domain-reliability',
    '--no-pings',
    '--password-store=basic',
    '--use-mock-keychain',
    '--hide-scrollbars',
    '--force-color-profile=srgb',
    // Pages play their sound without a click; a webcast has nobody to click.
    '--autoplay-policy=no-user-gesture-required',
    // A captured page must render at full rate even though no one looks at its window.
    '--disable-background-timer-throttling',
    '--disable-backgrounding-occluded-windows',
    '--disable-renderer-backgrounding',
    `--auto-select-tab-capture-source-by-title=${CAPTURE_TITLE}`,
    // ICE on loopback to the embedded Janus (mDNS candidates would hide the address).
    '--disable-features=WebRtcHideLocalIpsWithMdns,MediaRouter,OptimizationHints,Translate,AutofillServerCommunication,CertificateTransparencyComponentUpdater,DialMediaRouteProvider',
    '--allow-loopback-in-peer-connection',
    // Windows up to 4K; the default virtual screen would cap them.
    '--screen-info={3840x2160}',
    `--proxy-server=${proxyUrl}`,
    // Without this, Chromium sends loopback straight out, past the proxy.
    '--proxy-bypass-list=<-loopback>',
  ];
}

/**
 * One long-lived headless Chromium for a worker. Each task gets its own browser context
 * (no cookies, storage or cache shared). If the browser dies, 'lost' fires; `ensure()`
 * launches a new one.
 */
export class CloudBrowser extends EventEmitter<{ lost: [] }> {
  private browser: Browser | undefined;
  private launching: Promise<Browser> | undefined;
  private profileDir: string | undefined;
  private captureLock: Promise<unknown> = Promise.resolve();
  private closing = false;

  constructor(private readonly o: CloudBrowserOptions) {
    super();
  }

  async ensure(): Promise<Browser> {
    if (this.browser?.isConnected()) return this.browser;
    this.launching ??= this.launch().finally(() => (this.launching = undefined));
    return this.launching;
  }

  private async launch(): Promise<Browser> {
    this.profileDir = mkdtempSync(path.join(this.o.dataDir, 'chromium-'));
    const started = Date.now();
    const browser = await chromium.launch({
      executablePath: this.o.executablePath,
      // Playwright's defaults mute audio and disable features tab capture needs.
      ignoreDefaultArgs: true,
      args: chromiumArgs(this.profileDir, this.o.proxyUrl),
    });
    const profile = this.profileDir;
    browser.once('disconnected', () => {
      // Chromium's helpers may still be writing for a moment after the browser is gone.
      void rm(profile, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 }).catch(() => undefined);
      if (this.browser === browser) this.browser = undefined;
      if (!this.closing) {
        this.o.log.error('chromium died');
        this.emit('lost');
      }
    });
    this.browser = browser;
    this.o.log.info({ version: browser.version(), ms: Date.now() - started }, 'chromium started');
    return browser;
  }

  async newContext(): Promise<BrowserContext> {
    const browser = await this.ensure();
    // viewport null: the window's real size is what tab capture sees; emulation would lie.
    return browser.newContext({ viewport: null, ignoreHTTPSErrors: false, serviceWorkers: 'allow' });
  }

  /** Runs `fn` while no other task can be captured, since capture picks its tab by title. */
  withCaptureTitle<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.captureLock.then(fn, fn);
    this.captureLock = run.catch(() => undefined);
    return run;
  }

  /** The profile folder of the running Chromium; its processes carry it on their command line. */
  get profile(): string | undefined {
    return this.browser?.isConnected() ? this.profileDir : undefined;
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.browser?.close().catch(() => undefined);
  }
}
