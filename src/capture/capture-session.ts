import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import type { BrowserContext, Page } from 'playwright-core';
import type { Logger } from 'pino';
import { RoomError, printableLine, type Publication, type RoomBackend, type RoomRef } from '../rooms/room-backend.js';
import { DEFAULT_VIDEO_SOLUTION, StopReason, type MonitorConfig, type VideoSolution } from '../tasks/types.js';
import { FREEZE_MAX_MEAN_DIFF, HitCounter, SAMPLE_HEIGHT, SAMPLE_WIDTH, isBlank, meanAbsDiff } from './monitors.js';
import { redactUrl } from '../log.js';
import type { BrowserPool, Stage, TaskBrowser } from './cloud-browser.js';
import { udpCandidates, type MediaGate } from './browser-firewall.js';
import { EGRESS_HEADER, type EgressFailures } from './egress-proxy.js';
import { planCapture, type CapturePlan } from './layers.js';
import { LayerPauses } from './layer-pauses.js';
import { SendRate } from './send-rate.js';
import { startBitrateKbps, withStartBitrate } from './start-bitrate.js';
import { dressContext } from './user-agent-data.js';
import { settlesWithin } from './settles.js';
import { BROWSER_MAX_PIDS, type LimitsHit } from './task-cgroups.js';
import { fitWindow, minimizeWindow, pageInnerSize, screenOfPageSize, showWindow } from './page-window.js';

export type VideoCodec = 'VP8' | 'H264';

export interface SessionSpec {
  /** `AppId/RoomId/TaskId`, for logs. */
  label: string;
  sourceUrl: string;
  solutions: readonly VideoSolution[];
  room: RoomRef;
  userId: string;
  taskId?: string;
  codec: VideoCodec;
  /** How long the picture is held to meet the page's sound (see controller.js `delayed`). */
  videoDelayMs: number;
  /** The most CPU the task's browser may use, in cores (0: no ceiling). */
  cpuCeilingCores: number;
  /** EventNotify: publish only after the page calls onWebcastStart(). */
  waitForStartEvent: boolean;
  /** Seconds to wait for it; 0 = forever. */
  startTimeoutSec: number;
  monitor: MonitorConfig;
}

/** Why a session went off air by itself, and whether it should be opened afresh for a reason. */
export interface SessionLoss {
  reason: string;
  replaced: boolean;
  reschedule?: Exclude<StopReason, ''>;
}

export type CrashCause = 'memory' | 'threads' | 'crash';

/**
 * Why the page went away, in words a customer can act on: a limit the page ran into says more
 * than the crash it caused (a renderer that cannot start a thread ends itself).
 */
export function crashReason(hits: LimitsHit, memoryLimitMb: number, what: string): { cause: CrashCause; reason: string } {
  if (hits.oomKills > 0) return { cause: 'memory', reason: `the page used more than its ${memoryLimitMb} MB of memory (WEBCAST_PAGE_MEMORY_MB) and was stopped` };
  if (hits.pidsLimitHits > 0) return { cause: 'threads', reason: `${what}: its browser had reached the ${BROWSER_MAX_PIDS} threads and processes it may have (each of a page's workers is a thread)` };
  return { cause: 'crash', reason: what };
}

/** What a session tells its owner while it starts and runs. */
export interface SessionHooks {
  /** Stops a start that is still under way (the task was stopped meanwhile). */
  signal?: AbortSignal;
  onStartEvent?(): void;
  onRefresh?(reason: string): void;
  /** The page called onWebcastEnd(). */
  onPageEnd?(): void;
}

export interface SessionDeps {
  browsers: BrowserPool;
  /** Lets the task's browser reach the room's media candidates (page WebRTC is confined otherwise). */
  media?: MediaGate | undefined;
  /** The memory limit of one task's browser, for the reason a page over it is given. */
  memoryLimitMb: number;
  rooms: RoomBackend;
  proxy: EgressFailures;
  log: Logger;
  /** Counts each monitor finding that led to an action. */
  onMonitor?(check: 'blank' | 'freeze' | 'crash', action: 'refresh' | 'reschedule'): void;
  /** Counts pages that crashed, ran out of memory, or hung while put on air (each one is rescheduled). */
  onPageCrash?(cause: CrashCause | 'hang'): void;
  /** Counts video frames sent to the room since the last call, all layers together. */
  onFramesSent?(frames: number): void;
  /** Counts the seconds a task's CPU ceiling held its browser back since the last call. */
  onCpuThrottled?(seconds: number): void;
  /** How long each phase of a start that went on air took (see `start`). */
  onStartPhases?(phasesMs: Readonly<Record<string, number>>): void;
}

/** The page must be opened afresh in a new browser context (Status 5), for `reason`. */
export class RescheduleError extends Error {
  constructor(readonly reason: Exclude<StopReason, ''>, readonly detail = '') {
    super(`rescheduled: ${reason}${detail ? ` (${detail})` : ''}`);
    this.name = 'RescheduleError';
  }
}

/** The page itself could not be opened: the customer's problem, not ours (StartTaskFailed). */
export class PageOpenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PageOpenError';
  }
}

/**
 * The room backend did not take the publisher; its words are the customer's to read (a WHIP
 * endpoint's answer). Refused for good (`permanent`), the task fails at once; otherwise the
 * start is tried again, and the last of these says why it failed in the end.
 */
export class PublishError extends Error {
  constructor(
    message: string,
    readonly permanent: boolean,
  ) {
    super(message);
    this.name = 'PublishError';
  }
}

interface LayerStats {
  rid: string;
  framesSent: number;
  width: number;
  height: number;
  fps: number;
  bytesSent: number;
  encoder: string;
  limitation: string;
}
export interface PublishStats {
  state: string;
  video: LayerStats[];
  audio?: { packetsSent: number; bytesSent: number };
  /** How often the page stood still long enough that the capture was asked for its picture. */
  stillAsks: number;
}

const CONTROLLER_ORIGIN = `https://controller-${randomBytes(6).toString('hex')}.webcast.invalid`;
const CONTROLLER_SCRIPT = readFileSync(new URL('./controller/controller.js', import.meta.url), 'utf8');
const CONTROLLER_HTML = `<!doctype html><meta charset="utf-8"><title>webcast controller</title><script>${CONTROLLER_SCRIPT}</script>`;
const PAGE_LOAD_TIMEOUT_MS = 30_000;
const SIGNAL_BINDING = `__webcastSignal_${randomBytes(6).toString('hex')}`;

// EventNotify: onWebcastStart() and onWebcastEnd() exist in the page's top frame before any of
// its scripts run, on every load. The binding is this task's context's own, so a page can only
// ever signal its own task.
const NOTIFY_SCRIPT = `(() => {
  if (window.top !== window || location.origin === ${JSON.stringify(CONTROLLER_ORIGIN)}) return;
  const signal = window[${JSON.stringify(SIGNAL_BINDING)}];
  if (typeof signal !== 'function') return;
  const define = (name, kind) => Object.defineProperty(window, name, { value: () => { signal(kind); }, writable: false, configurable: false });
  define('onWebcastStart', 'start');
  define('onWebcastEnd', 'end');
})();`;
const FIRST_FRAME_TIMEOUT_MS = 20_000;
/**
 * A page whose main thread never yields (a loop, a synchronous request that is never answered)
 * answers no call into it, and would hold a start, and its slot, for ever. Chromium itself calls
 * a page hung after 15 s without an answer.
 */
const PAGE_ANSWER_TIMEOUT_MS = 15_000;
const WATCH_INTERVAL_MS = 2_000;
/**
 * A connection that stays 'disconnected' this long is given up: ICE would call it 'failed' only
 * after its consent timeout (about 18 s measured, a WHIP session dropped by the server), and a
 * fresh publication is on air in a second or two.
 */
const DISCONNECTED_GRACE_MS = 5_000;

// Pages have no business capturing screens; only our controller does.
const PAGE_GUARD = `(() => {
  if (location.origin === ${JSON.stringify(CONTROLLER_ORIGIN)}) return;
  try { if (navigator.mediaDevices) { navigator.mediaDevices.getDisplayMedia = undefined; } } catch {}
})();`;

/** What the controller captures: the page's tab at this size and at most this rate. */
export type Render = CapturePlan['render'];

/**
 * What a tab is captured at for a task that renders at `render`: its size, and its rate but no
 * less than the default 15. A capture held to a rate under 15 delivered far less (10 → 5.3-7.3
 * fps at the viewer, 12 → 4.6, 5 → 2.3-2.7; 15 and over were kept): the encoder (each layer's
 * maxFramerate) sends the task's rate instead.
 */
const capturedAt = (render: Render): Render => ({ ...render, frameRate: Math.max(render.frameRate, DEFAULT_VIDEO_SOLUTION.FrameRate) });

/** The size most tasks ask for (no VideoSolutions): the warm pool captures at it ahead of need. */
const DEFAULT_RENDER: Render = { width: DEFAULT_VIDEO_SOLUTION.Width, height: DEFAULT_VIDEO_SOLUTION.Height, frameRate: DEFAULT_VIDEO_SOLUTION.FrameRate };

/**
 * Readies a task's browser ahead of need: its context, our controller loaded in one tab and a
 * blank tab for the page, already captured at the default size. These are the parts of a
 * start that cost most (a new browser's first renderers, then the capture and its "sharing
 * this tab" bar), none of which depends on the task.
 */
export async function prepareStage(browser: TaskBrowser, videoDelayMs: number): Promise<Stage> {
  const context = await browser.newContext();
  // Served once, to our controller: a page that found the origin gets nothing from it.
  let served = false;
  await context.route(`${CONTROLLER_ORIGIN}/**`, (route) => (served ? route.abort() : ((served = true), route.fulfill({ contentType: 'text/html', body: CONTROLLER_HTML }))));
  await context.addInitScript(PAGE_GUARD);
  const controller = await context.newPage();
  await controller.goto(`${CONTROLLER_ORIGIN}/`);
  const page = await context.newPage();
  await dressContext(context, controller, page, browser.browser.version());
  const stage = { context, controller, page, captured: DEFAULT_RENDER };
  await captureTab(stage, browser.captureTitle, DEFAULT_RENDER, videoDelayMs);
  // Not composited while it waits (see minimizeWindow); the capture goes on.
  await minimizeWindow(context, page);
  return stage;
}

/**
 * Captures the stage's page tab at `at` (capturedAt). Only ever before any of the customer's code has
 * run in this browser: the tab wears the browser's capture title only for this moment, and a
 * page that waits in getDisplayMedia for that title never sees it again.
 */
async function captureTab(stage: Stage, captureTitle: string, at: Render, videoDelayMs: number): Promise<void> {
  const { context, controller, page } = stage;
  await showWindow(context, page);
  await page.goto('about:blank');
  await page.evaluate((title) => (document.title = title), captureTitle);
  await page.bringToFront();
  await fitWindow(context, page, at.width, at.height);
  await controller.evaluate((r) => (window as unknown as WebcastController).webcast.capture(r), { ...at, videoDelayMs });
  await page.evaluate(() => (document.title = ''));
  // Capturing adds a "sharing this tab" bar above the page, a moment later; the page must
  // keep its exact size, so wait for the bar and make the window taller by as much.
  const deadline = Date.now() + 2000;
  while (Date.now() < deadline && (await pageInnerSize(page))[1] === at.height) {
    await new Promise((r) => setTimeout(r, 50));
  }
  await fitWindow(context, page, at.width, at.height);
  stage.captured = at;
}

/**
 * One task's page on air: its own browser context holding the page and our controller,
 * the page captured by tab capture and published into the room. Emits 'lost' when the
 * publication breaks by itself (the engine decides what to do).
 */
export class CaptureSession extends EventEmitter<{ lost: [SessionLoss] }> {
  private publication: Publication | undefined;
  private startSignalled = false;
  private startWaiter: (() => void) | undefined;
  private watch: NodeJS.Timeout | undefined;
  /** framesSent already reported through onFramesSent. */
  private framesCounted = 0;
  /** Throttled seconds already reported through onCpuThrottled. */
  private throttledCounted = 0;
  /** Throttled seconds when the page came on air; undefined once the operator was told. */
  private throttledOnAir: number | undefined;
  private readonly monitors: NodeJS.Timeout[] = [];
  private hooks: SessionHooks = {};
  private closed = false;
  private closeMedia: (() => Promise<void>) | undefined;
  /** The page crashed before it was on air: the start stops waiting for frames at once. */
  private crashedWhileStarting = false;
  private disconnectedSince: number | undefined;
  /** keepSize is waiting for the page. */
  private sizing = false;
  readonly plan: CapturePlan;
  /** The big layer's rate, which tells admission when the node's tasks lose frames. */
  private readonly bigLayerRate: SendRate;
  private readonly layerPauses = new LayerPauses();

  private constructor(
    private readonly deps: SessionDeps,
    readonly spec: SessionSpec,
    /** The task's own Chromium. */
    readonly browser: TaskBrowser,
    private readonly stage: Stage,
  ) {
    super();
    this.plan = planCapture(spec.solutions);
    this.bigLayerRate = new SendRate(this.plan.layers[0]?.maxFramerate ?? this.plan.render.frameRate);
    this.page.once('crash', () => (this.crashedWhileStarting = true));
  }

  private get context(): BrowserContext {
    return this.stage.context;
  }

  get page(): Page {
    return this.stage.page;
  }

  private get controller(): Page {
    return this.stage.controller;
  }

  /** Opens the page, captures it and publishes it; resolves once the first frame is sent. */
  static async start(deps: SessionDeps, spec: SessionSpec, hooks: SessionHooks = {}): Promise<CaptureSession> {
    const log = deps.log.child({ task: spec.label });
    // From here: a start that waits for its browser (a spare still launching) shows it in 'browser'.
    let last = performance.now();
    const { browser, stage } = await deps.browsers.acquire(spec.cpuCeilingCores);
    const abort = (): void => void browser.close();
    hooks.signal?.addEventListener('abort', abort, { once: true });
    let session: CaptureSession | undefined;
    const phases: Record<string, number> = {};
    const phase = (name: string): void => {
      const now = performance.now();
      phases[name] = Math.round(now - last);
      last = now;
    };
    phase('browser');
    try {
      // Raced with the browser's end: a call its death cut off may never settle (TaskBrowser.gone).
      const started = (async (): Promise<CaptureSession> => {
        session = new CaptureSession(deps, spec, browser, stage);
        session.hooks = hooks;
        phase('context');
        if (spec.waitForStartEvent) await session.listenForPageEvents(hooks);
        await session.capture();
        phase('capture');
        // The offer (ICE gathering above all) needs only the capture: it is made while the page loads.
        const offer = session.offer();
        offer.catch(() => undefined);
        await session.open(log);
        await session.answered(minimizeWindow(stage.context, stage.page));
        phase('page');
        if (spec.waitForStartEvent) await session.waitForStartEvent(hooks, log);
        phase('startEvent');
        await session.publish(await offer);
        phase('publish');
        await session.waitFirstFrame();
        phase('firstFrame');
        // A tab that crashed after it loaded still yields frames (its last picture): the first
        // frame does not prove it lives. From startWatching on, a crash is watched for; before,
        // only this flag saw it, in the same turn of the event loop.
        if (session.crashedWhileStarting) throw new Error('the page crashed while it was being put on air');
        session.startWatching();
        log.info({ url: redactUrl(spec.sourceUrl), layers: session.plan.layers.map((l) => `${l.width}x${l.height}@${l.maxFramerate}`), phasesMs: phases }, 'page on air');
        deps.onStartPhases?.(phases);
        return session;
      })();
      started.catch(() => undefined);
      return await Promise.race([started, browser.gone]);
    } catch (err) {
      const hits = browser.limitsHit();
      await (session ? session.close() : browser.close());
      if (hooks.signal?.aborted) throw new Error('the start was stopped');
      // A page that runs out of memory or crashes while it is put on air is rescheduled like one
      // that does so on air: the page's fault, not an error of the node to retry as one.
      if ((hits.oomKills > 0 || session?.crashedWhileStarting) && !(err instanceof RescheduleError)) {
        const { cause, reason } = crashReason(hits, deps.memoryLimitMb, 'the page crashed while it was being put on air');
        deps.onPageCrash?.(cause);
        throw new RescheduleError(StopReason.PageCrash, reason);
      }
      throw err;
    } finally {
      hooks.signal?.removeEventListener('abort', abort);
    }
  }

  private async listenForPageEvents(hooks: SessionHooks): Promise<void> {
    await this.context.exposeBinding(SIGNAL_BINDING, (source, kind: unknown) => {
      // Only the task's own page, in its top frame, speaks for the task.
      if (source.page !== this.page || source.frame !== this.page.mainFrame()) return;
      if (kind === 'start' && !this.startSignalled) {
        this.startSignalled = true;
        hooks.onStartEvent?.();
        this.startWaiter?.();
      } else if (kind === 'end') {
        hooks.onPageEnd?.();
      }
    });
    await this.context.addInitScript(NOTIFY_SCRIPT);
  }

  /**
   * Nothing is published before the page says it is ready. The first StartTimeout refreshes
   * the page; the second asks for a reschedule.
   */
  private async waitForStartEvent(hooks: SessionHooks, log: Logger): Promise<void> {
    const timeoutMs = this.spec.startTimeoutSec * 1000;
    for (let round = 0; !this.startSignalled; round += 1) {
      const arrived = new Promise<boolean>((resolve) => {
        this.startWaiter = () => resolve(true);
        if (timeoutMs > 0) setTimeout(() => resolve(false), timeoutMs).unref();
      });
      if (await arrived) break;
      if (this.startSignalled) break;
      if (round === 0) {
        log.info({ timeoutSec: this.spec.startTimeoutSec }, 'no start event in time: refreshing the page');
        hooks.onRefresh?.('StartEventTimeout');
        await this.page.reload({ waitUntil: 'load', timeout: PAGE_LOAD_TIMEOUT_MS });
      } else {
        throw new RescheduleError(StopReason.StartEventTimeout);
      }
    }
    this.startWaiter = undefined;
    log.info('the page called onWebcastStart()');
  }

  /**
   * The warm stage captured the page's tab at the default size already. A task of that size or
   * a smaller one has its window fitted and the capture held to its size and rate; only a larger
   * one is captured afresh (still before any of its code has run), as a capture scales down but
   * never up.
   */
  private async capture(): Promise<void> {
    const { render } = this.plan;
    const { captured } = this.stage;
    const wanted = capturedAt(render);
    if (render.width > captured.width || render.height > captured.height) {
      await captureTab(this.stage, this.browser.captureTitle, wanted, this.spec.videoDelayMs);
    } else if (captured.width !== wanted.width || captured.height !== wanted.height || captured.frameRate !== wanted.frameRate) {
      await fitWindow(this.context, this.page, render.width, render.height);
      await this.controller.evaluate((r) => (window as unknown as WebcastController).webcast.retune(r), wanted);
      this.stage.captured = wanted;
    }
    // Its CDP session stays attached (nothing detaches it) until the browser closes.
    await screenOfPageSize(this.context, this.page, render.width, render.height);
    await this.page.bringToFront();
  }

  private async open(log: Logger): Promise<void> {
    const url = this.spec.sourceUrl;
    let response;
    try {
      response = await this.page.goto(url, { waitUntil: 'load', timeout: PAGE_LOAD_TIMEOUT_MS });
    } catch (err) {
      const host = new URL(url).hostname;
      const why = this.deps.proxy.failureFor(host);
      const message = ((err as Error).message.split('\n')[0] ?? String(err)).replace(/^page\.goto: /, '');
      throw new PageOpenError(why ? `${why} (${message.replace(url, redactUrl(url))})` : message.replace(url, redactUrl(url)));
    }
    const status = response?.status() ?? 0;
    if (status >= 400) {
      // After redirects the refused host is the last one, not the SourceURL's.
      const why = response?.headers()[EGRESS_HEADER] ? this.deps.proxy.failureFor(new URL(response.url()).hostname) : undefined;
      throw new PageOpenError(why ?? `the page answered HTTP ${status} ${response?.statusText() ?? ''}`.trim());
    }
    await this.answered(fitWindow(this.context, this.page, this.plan.render.width, this.plan.render.height));
    log.debug({ status }, 'page loaded');
  }

  /**
   * `work`, a call into the page while it is put on air, or a reschedule if the page does not
   * answer it in time. Closing the browser (as a failed start does) ends the call.
   */
  private async answered<T>(work: Promise<T>): Promise<T> {
    if (!(await settlesWithin(work, PAGE_ANSWER_TIMEOUT_MS))) {
      this.deps.onPageCrash?.('hang');
      throw new RescheduleError(StopReason.PageCrash, `the page did not answer for ${PAGE_ANSWER_TIMEOUT_MS / 1000} s after it loaded: its main thread never yields`);
    }
    return work;
  }

  private offer(): Promise<string> {
    return this.controller.evaluate(
      (o) => (window as unknown as WebcastController).webcast.offer(o),
      { layers: this.plan.layers, codec: `video/${this.spec.codec}` },
    );
  }

  private async publish(offer: string): Promise<void> {
    const publication = await this.deps.rooms.publish({ room: this.spec.room, userId: this.spec.userId, taskId: this.spec.taskId, offerSdp: offer }).catch((err: unknown) => {
      throw err instanceof RoomError ? new PublishError(err.message, err.permanent) : err;
    });
    this.publication = publication;
    this.closeMedia = await this.deps.media?.open(udpCandidates(publication.answerSdp), this.browser.uid);
    publication.onLost((loss) => this.lose(loss.reason, loss.replaced));
    // A room (a WHIP endpoint above all) may answer with anything that starts like SDP: the
    // browser's own parser says whether it is usable, and the customer is told what it said.
    const answer = withStartBitrate(this.browser.reachable(publication.answerSdp), startBitrateKbps(this.plan.layers));
    const { refused } = await this.controller.evaluate((sdp) => (window as unknown as WebcastController).webcast.answer(sdp), answer);
    if (refused !== undefined) throw new PublishError(`the room's answer to the publisher is not usable SDP: ${printableLine(refused)}`, false);
  }

  /** A JPEG of what is published right now, `width` pixels wide. */
  async thumbnail(width: number): Promise<Buffer> {
    const base64 = await this.controller.evaluate((w) => (window as unknown as WebcastController).webcast.thumbnail(w), width);
    return Buffer.from(base64, 'base64');
  }

  /** Whether the page sends under 90 % of its frame rate, having sent it before (SendRate); undefined while not known. */
  lagging(): boolean | undefined {
    return this.bigLayerRate.lagging();
  }

  stats(): Promise<PublishStats> {
    return this.controller.evaluate(() => (window as unknown as WebcastController).webcast.stats());
  }

  private async waitFirstFrame(): Promise<void> {
    const deadline = Date.now() + FIRST_FRAME_TIMEOUT_MS;
    let last: PublishStats | undefined;
    while (Date.now() < deadline) {
      if (this.crashedWhileStarting || !this.browser.connected) throw new Error('the page crashed while it was being put on air');
      last = await this.stats();
      if (last.state === 'failed') throw new Error('the WebRTC connection to the room failed');
      if (last.video.length > 0 && last.video.every((v) => v.framesSent > 0)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`no frame was sent within ${FIRST_FRAME_TIMEOUT_MS / 1000} s (connection ${last?.state ?? 'unknown'})`);
  }

  private startWatching(): void {
    // A start that lost the race with its browser's end (start()) is closed already.
    if (this.closed) return;
    this.throttledOnAir = this.browser.throttledSeconds();
    // A crashed page is opened afresh, and ends after WEBCAST_MAX_RESCHEDULES, whether or not
    // CrashCheckInterval asks for the hang check: a page that crashes again and again must end.
    const crashed = (what: string): void => {
      if (this.closed) return;
      const { cause, reason } = crashReason(this.browser.limitsHit(), this.deps.memoryLimitMb, what);
      this.deps.onPageCrash?.(cause);
      this.lose(reason, false, StopReason.PageCrash);
    };
    this.page.on('crash', () => crashed('the page crashed'));
    this.browser.on('lost', () => crashed('the page\'s browser crashed'));
    this.startMonitors();
    this.context.on('close', () => crashed('the page\'s browser closed'));
    this.watch = setInterval(() => {
      this.stats().then(
        (s) => {
          const sent = s.video.reduce((sum, v) => sum + v.framesSent, 0);
          // A single layer is sent without its rid (the controller names layers only where there are two).
          const big = s.video.find((v) => v.rid === this.plan.layers[0]?.rid) ?? s.video[0];
          if (big) this.bigLayerRate.add(big.framesSent, performance.now(), s.stillAsks);
          this.tellLayerPauses(s.video);
          if (sent > this.framesCounted) this.deps.onFramesSent?.(sent - this.framesCounted);
          this.framesCounted = sent;
          if (s.state === 'failed' || s.state === 'closed') this.lose(`the WebRTC connection is ${s.state}`);
          this.disconnectedSince = s.state === 'disconnected' ? (this.disconnectedSince ?? Date.now()) : undefined;
          if (this.disconnectedSince !== undefined && Date.now() - this.disconnectedSince >= DISCONNECTED_GRACE_MS) {
            this.lose(`the WebRTC connection is disconnected for ${DISCONNECTED_GRACE_MS / 1000} s`);
          }
        },
        () => this.lose('the controller stopped answering'),
      );
      void this.keepSize();
      this.countThrottling();
    }, WATCH_INTERVAL_MS);
    this.watch.unref();
  }

  private tellLayerPauses(video: readonly LayerStats[]): void {
    for (const change of this.layerPauses.update(video, performance.now())) {
      const layer = this.plan.layers.find((l) => l.rid === change.rid);
      const name = layer ? `${layer.width}x${layer.height}` : change.rid;
      if (change.kind === 'paused') {
        const untold = change.untold > 0 ? { untoldPauses: change.untold } : {};
        this.deps.log.warn({ task: this.spec.label, layer: name, limitation: change.limitation, ...untold }, 'the browser stopped sending a layer: its viewers get another until it comes back');
      } else {
        this.deps.log.info({ task: this.spec.label, layer: name, pausedMs: Math.round(change.pausedMs) }, 'the browser sends the layer again');
      }
    }
  }

  /**
   * The operator learns when a page needs more CPU than its ceiling: the page is slowed, no one
   * else is. Told once, after a second held back on air: every start runs into the ceiling for
   * a moment (measured: a light page's start, 1280x720@15, took 485 ms to its first frame with the
   * ceiling and 463 ms without, medians of 8), which says nothing of the page.
   */
  private countThrottling(): void {
    const throttled = this.browser.throttledSeconds();
    if (this.throttledOnAir !== undefined && throttled - this.throttledOnAir >= 1) {
      this.deps.log.warn({ task: this.spec.label, ceilingCores: this.spec.cpuCeilingCores }, 'the page wants more CPU than its ceiling (WEBCAST_TASK_CPU_MILLICORES): it runs slower, other tasks do not');
      this.throttledOnAir = undefined;
    }
    if (throttled <= this.throttledCounted) return;
    this.deps.onCpuThrottled?.(throttled - this.throttledCounted);
    this.throttledCounted = throttled;
  }

  /**
   * The "sharing this tab" bar can appear, or change height, late (a loaded machine, a narrow
   * window where it wraps); the page must keep its exact size all along.
   */
  private async keepSize(): Promise<void> {
    // A page that stops answering would gather one unanswered call per round.
    if (this.sizing) return;
    this.sizing = true;
    const { width, height } = this.plan.render;
    try {
      const [w, h] = await pageInnerSize(this.page);
      if (w !== width || h !== height) {
        this.deps.log.info({ task: this.spec.label, was: `${w}x${h}` }, 'page size drifted; fitting the window again');
        await fitWindow(this.context, this.page, width, height);
      }
    } catch {
      // A page in the middle of navigating cannot answer; the next round checks again.
    } finally {
      this.sizing = false;
    }
  }

  private startMonitors(): void {
    const { BlankCheckInterval, FreezeCheckInterval, CrashCheckInterval } = this.spec.monitor;
    const every = (seconds: number, check: () => Promise<void>): void => {
      let busy = false;
      const timer = setInterval(() => {
        if (busy || this.closed) return;
        busy = true;
        check()
          .catch((err: unknown) => this.deps.log.debug({ err, task: this.spec.label }, 'monitor check failed'))
          .finally(() => (busy = false));
      }, seconds * 1000);
      timer.unref();
      this.monitors.push(timer);
    };
    const sample = (): Promise<number[] | undefined> =>
      this.controller.evaluate(([w, h]) => (window as unknown as WebcastController).webcast.sample(w, h), [SAMPLE_WIDTH, SAMPLE_HEIGHT] as const).catch(() => undefined);
    const checkName = { PageBlank: 'blank', PageFreeze: 'freeze' } as const;
    const act = async (verdict: string, reason: typeof StopReason.PageBlank | typeof StopReason.PageFreeze): Promise<void> => {
      if (verdict === 'refresh' || verdict === 'reschedule') this.deps.onMonitor?.(checkName[reason], verdict);
      if (verdict === 'refresh') {
        this.deps.log.info({ task: this.spec.label, reason }, 'monitor: refreshing the page');
        this.hooks.onRefresh?.(reason);
        await this.page.reload({ waitUntil: 'load', timeout: PAGE_LOAD_TIMEOUT_MS }).catch(() => undefined);
      } else if (verdict === 'reschedule') {
        this.lose(`the page is still ${reason} after a refresh`, false, reason);
      }
    };
    if (BlankCheckInterval > 0) {
      const counter = new HitCounter();
      every(BlankCheckInterval, async () => {
        const rgb = await sample();
        if (rgb) await act(counter.check(isBlank(rgb)), StopReason.PageBlank);
      });
    }
    if (FreezeCheckInterval > 0) {
      const counter = new HitCounter();
      let previous: number[] | undefined;
      every(FreezeCheckInterval, async () => {
        const rgb = await sample();
        if (!rgb) return;
        const frozen = previous !== undefined && meanAbsDiff(rgb, previous) < FREEZE_MAX_MEAN_DIFF;
        previous = rgb;
        const verdict = counter.check(frozen);
        if (verdict === 'refresh' || verdict === 'reschedule') previous = undefined;
        await act(verdict, StopReason.PageFreeze);
      });
    }
    if (CrashCheckInterval > 0) {
      // A page whose JS thread does not answer within the interval counts as crashed.
      every(CrashCheckInterval, async () => {
        if (!(await settlesWithin(this.page.evaluate(() => 1), CrashCheckInterval * 1000))) {
          this.deps.onMonitor?.('crash', 'reschedule');
          this.lose(`the page did not answer within ${CrashCheckInterval} s`, false, StopReason.PageCrash);
        }
      });
    }
  }

  private lose(reason: string, replaced = false, reschedule?: Exclude<StopReason, ''>): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.watch);
    this.monitors.forEach(clearInterval);
    this.emit('lost', { reason, replaced, ...(reschedule ? { reschedule } : {}) });
  }

  /** Leaves the room, then closes the task's browser; safe to call more than once. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.watch);
    this.monitors.forEach(clearInterval);
    await this.publication?.close().catch(() => undefined);
    await this.browser.close();
    await this.closeMedia?.();
  }
}

/** What controller.js puts on window, as seen from Node. */
interface WebcastController {
  webcast: {
    capture(r: { width: number; height: number; frameRate: number; videoDelayMs: number }): Promise<unknown>;
    retune(r: { width: number; height: number; frameRate: number }): Promise<void>;
    offer(o: { layers: CapturePlan['layers']; codec: string }): Promise<string>;
    answer(sdp: string): Promise<{ refused?: string }>;
    stats(): Promise<PublishStats>;
    sample(width: number, height: number): Promise<number[]>;
    thumbnail(width: number): Promise<string>;
  };
}
