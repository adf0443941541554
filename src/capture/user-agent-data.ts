import type { BrowserContext, CDPSession, Page } from 'playwright-core';

/**
 * `navigator.userAgentData` as an ordinary Chrome fills it. Chromium started with --user-agent
 * (which we need: headless mode's own says "HeadlessChrome") answers only the low-entropy part;
 * getHighEntropyValues() then returns an empty fullVersionList, no uaFullVersion and no
 * architecture, which no browser a person uses does.
 */
export interface UserAgentMetadata {
  brands: Brand[];
  fullVersionList: Brand[];
  fullVersion: string;
  platform: string;
  platformVersion: string;
  architecture: string;
  model: string;
  mobile: boolean;
  bitness: string;
  wow64: boolean;
  formFactors: string[];
}

export interface Brand {
  brand: string;
  version: string;
}

/** The platform an ordinary browser sending this User-Agent would report (as Playwright derives it). */
function platformOf(userAgent: string): string {
  if (/Android/.test(userAgent)) return 'Android';
  if (/iPhone|iPad/.test(userAgent)) return 'iOS';
  if (/Mac OS X/.test(userAgent)) return 'macOS';
  if (/Windows/.test(userAgent)) return 'Windows';
  if (/CrOS/.test(userAgent)) return 'Chrome OS';
  return 'Linux';
}

/**
 * The metadata this Chromium gives without the switch. The brands (with Chromium's GREASE
 * brand) are the browser's own low-entropy ones; each gets its full version: the browser's for
 * the browser's brands, "N.0.0.0" for the GREASE one, as Chromium writes it.
 */
export function fullMetadata(brands: Brand[], browserVersion: string, userAgent: string): UserAgentMetadata {
  const major = browserVersion.split('.')[0];
  const platform = platformOf(userAgent);
  return {
    brands,
    fullVersionList: brands.map((b) => ({ brand: b.brand, version: b.version === major ? browserVersion : `${b.version}.0.0.0` })),
    fullVersion: browserVersion,
    platform,
    platformVersion: '',
    architecture: process.arch === 'arm64' || process.arch === 'arm' ? 'arm' : 'x86',
    model: '',
    mobile: platform === 'Android' || platform === 'iOS',
    bitness: process.arch === 'arm' || process.arch === 'ia32' ? '32' : '64',
    wow64: false,
    formFactors: [platform === 'Android' || platform === 'iOS' ? 'Mobile' : 'Desktop'],
  };
}

interface CdpMessage {
  id?: number;
  method?: string;
  params?: { sessionId?: string; message?: string; targetInfo?: { type: string }; waitingForDebugger?: boolean };
}

/**
 * Gives a page, and everything it starts (cross-site frames, which run in processes of their
 * own, dedicated and service workers, and theirs in turn) the full metadata.
 *
 * The children are reached by auto-attaching with the browser's non-flattened protocol, since
 * Playwright's sessions cannot address child sessions: each child starts paused until it has
 * its override, so not even its first script sees the bare values. Commands are sent without
 * waiting; the protocol keeps their order within a session, and a child that is gone meanwhile
 * just fails them.
 */
export async function giveFullUserAgentData(cdp: CDPSession, userAgent: string, metadata: UserAgentMetadata): Promise<void> {
  let nextId = 1;
  /** Sends to the target at the end of `route` (session ids, outermost first), wrapping once per hop. */
  const sendTo = (route: string[], method: string, params: object): void => {
    let message: CdpMessage | { id: number; method: string; params: object } = { id: nextId++, method, params };
    for (let i = route.length - 1; i > 0; i--) {
      message = { id: nextId++, method: 'Target.sendMessageToTarget', params: { sessionId: route[i], message: JSON.stringify(message) } };
    }
    cdp.send('Target.sendMessageToTarget', { sessionId: route[0] as string, message: JSON.stringify(message) }).catch(() => {
      // The target is gone: nothing left to dress.
    });
  };
  const attached = (route: string[], type: string): void => {
    // Frames and pages take Emulation; workers have only the Network domain.
    const domain = type === 'iframe' || type === 'page' ? 'Emulation' : 'Network';
    sendTo(route, `${domain}.setUserAgentOverride`, { userAgent, userAgentMetadata: metadata });
    sendTo(route, 'Target.setAutoAttach', { autoAttach: true, waitForDebuggerOnStart: true, flatten: false });
    // Always sent, even when the override failed: a child left waiting would hang its page.
    sendTo(route, 'Runtime.runIfWaitingForDebugger', {});
  };
  /** An event that came up `route`: a child attached, or an event of a deeper child, wrapped. */
  const received = (route: string[], raw: string): void => {
    let m: CdpMessage;
    try {
      m = JSON.parse(raw) as CdpMessage;
    } catch {
      return;
    }
    const sessionId = m.params?.sessionId;
    if (!sessionId) return;
    if (m.method === 'Target.attachedToTarget') attached([...route, sessionId], m.params?.targetInfo?.type ?? '');
    else if (m.method === 'Target.receivedMessageFromTarget' && m.params?.message) received([...route, sessionId], m.params.message);
  };
  cdp.on('Target.attachedToTarget', (e) => attached([e.sessionId], e.targetInfo.type));
  cdp.on('Target.receivedMessageFromTarget', (e) => received([e.sessionId], e.message));
  await cdp.send('Emulation.setUserAgentOverride', { userAgent, userAgentMetadata: metadata });
  await cdp.send('Target.setAutoAttach', { autoAttach: true, waitForDebuggerOnStart: true, flatten: false });
}

/** What the browser itself reports, read in a page of ours before any customer code runs. */
export async function browserUserAgentData(page: Page): Promise<{ userAgent: string; brands: Brand[] }> {
  return page.evaluate(() => ({
    userAgent: navigator.userAgent,
    // userAgentData is in every Chromium, but not yet in TypeScript's DOM types.
    brands: (navigator as unknown as { userAgentData: { brands: Brand[] } }).userAgentData.brands.map((b) => ({ brand: b.brand, version: b.version })),
  }));
}

/**
 * Dresses the task's page and every popup it opens. The sessions stay attached (nothing detaches
 * them) until the browser closes.
 */
export async function dressContext(context: BrowserContext, ours: Page, page: Page, browserVersion: string): Promise<void> {
  const { userAgent, brands } = await browserUserAgentData(ours);
  const metadata = fullMetadata(brands, browserVersion, userAgent);
  const dress = async (p: Page): Promise<void> => giveFullUserAgentData(await context.newCDPSession(p), userAgent, metadata);
  // A popup runs its first script before this can reach it: it has the bare values for that moment.
  context.on('page', (p) => {
    if (p !== page && p !== ours) dress(p).catch(() => undefined);
  });
  await dress(page);
}
