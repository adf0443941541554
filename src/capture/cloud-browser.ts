import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { chmodSync, mkdirSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import type { Logger } from 'pino';
import type { BrowserUidPool } from './browser-user.js';
import { settlesWithin } from './settles.js';
import { FOLDER_REMOVAL_MS, removeFolder } from './remove-folder.js';
import type { Confinement } from './browser-confinement.js';
import { sharesNodeProc, type BrowserMounts } from './browser-mounts.js';
import { Enclosures } from './browser-enclosure.js';
import { openCgroups, type CgroupSupport, type LimitsHit, type TaskCgroup } from './task-cgroups.js';
import { candidatesFromOwnNetwork, NODE_FROM_BROWSER, type OwnNetwork } from './browser-network.js';

/** What pages see of the browser they run in: an ordinary one, set for the node's customers. */
export interface BrowserLook {
  /** BCP 47, e.g. zh-CN: navigator.language and Accept-Language. */
  locale: string;
  /** IANA, e.g. Asia/Shanghai. */
  timezone: string;
  /** The User-Agent; undefined = Chrome's own for this Chromium's version, without "Headless". */
  userAgent: string | undefined;
}

/** Chrome's reduced User-Agent on Linux, as an ordinary desktop Chrome of that major version sends it. */
export const chromeUserAgent = (major: number): string =>
  `Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${major}.0.0.0 Safari/537.36`;

/** zh-CN → "zh-CN,zh" (Chromium adds the q-values): the language alone as the fallback, as browsers send it. */
export function acceptLanguages(locale: string): string {
  const language = locale.split('-')[0] ?? locale;
  return language === locale ? locale : `${locale},${language}`;
}

export interface ChromiumArgsInput {
  userDataDir: string;
  /** The browser's own requests go to this proxy, which lets nothing through (ClosedDoor); each context names the pages' own. */
  ownProxyUrl: string;
  locale: string;
  userAgent: string;
  /** The one title the controller's capture may pick; new for every browser. */
  captureTitle: string;
  /**
   * It runs in a network of its own (browser-network.ts), whose loopback is its own: nothing the
   * publisher needs listens there, so ICE gathers no candidate on it.
   */
  ownNetwork?: boolean;
}

export function chromiumArgs(o: ChromiumArgsInput): string[] {
  return [
    '--headless',
    '--remote-debugging-pipe',
    `--user-data-dir=${o.userDataDir}`,
    '--no-startup-window',
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
    '--disable-breakpad',
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
    `--auto-select-tab-capture-source-by-title=${o.captureTitle}`,
    `--disable-features=${[
      'MediaRouter', 'OptimizationHints', 'Translate', 'AutofillServerCommunication', 'CertificateTransparencyComponentUpdater', 'DialMediaRouteProvider',
      // The omnibox popup that Chromium preloads at start is a WebUI renderer of its own (about
      // 40 MB per browser), for an address bar nobody sees in a browser without a window.
      'WebUIOmniboxPopup', 'WebUIOmniboxAimPopup', 'PreloadTopChromeWebUI',
      // The audio and network services run unsandboxed on Linux anyway (--service-sandbox-type=none):
      // in the browser process they cost no isolation and save a process each per task.
      'AudioServiceOutOfProcess',
      // The browser's own calls home (network time from clients2.google.com, the search
      // engine's preconnect and AI-mode checks): they go nowhere anyway (ClosedDoor); Playwright
      // turns the same off.
      'NetworkTimeServiceQuerying', 'PreconnectToSearch', 'AimEnabled',
      // The renderer Chromium keeps ready for the next site's first page, one per browser: a
      // task's browser opens its page once (2026-11-28, two alternated bench runs: starts 570 and
      // 576 ms without it against 574 and 569 with it, 3-9 % less CPU at one to five tasks).
      'SpareRendererForSitePerProcess',
    ].join(',')}`,
    // No ListAccounts to accounts.google.com without a Google cookie (as Playwright does).
    '--enable-features=NetworkServiceInProcess2,SkipListAccountsWithoutGaiaCookies',
    // ICE on loopback to the embedded Janus, where the browser shares the node's network.
    ...(o.ownNetwork ? [] : ['--allow-loopback-in-peer-connection']),
    // Windows up to 4K; the default virtual screen would cap them.
    '--screen-info={3840x2160}',
    `--proxy-server=${o.ownProxyUrl}`,
    // Without this, Chromium sends loopback straight out, past the proxy.
    '--proxy-bypass-list=<-loopback>',
    // An ordinary browser, in the customers' language (the time zone is the TZ of its environment).
    `--lang=${o.locale}`,
    `--accept-lang=${acceptLanguages(o.locale)}`,
    `--user-agent=${o.userAgent}`,
    // navigator.webdriver is false, as in a browser somebody uses.
    '--disable-blink-features=AutomationControlled',
    // A desktop with a mouse: headless has no pointer, so (pointer: fine) and (hover: hover)
    // would not match, and desktop pages' CSS would lay them out as for a device without one.
    '--blink-settings=primaryPointerType=4,availablePointerTypes=4,primaryHoverType=2,availableHoverTypes=2',
  ];
}

const execFileAsync = promisify(execFile);

/** The major version of the Chromium at `executablePath` ("Chromium 156.0.8078.108 built on Debian…"). */
async function chromiumMajor(executablePath: string): Promise<number> {
  const { stdout } = await execFileAsync(executablePath, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  const major = Number(/(\d+)\.\d+\.\d+\.\d+/.exec(stdout)?.[1]);
  if (!Number.isInteger(major)) throw new Error(`cannot tell the version of ${executablePath} from "${stdout.trim()}"`);
  return major;
}

/**
 * Joins the listed cgroups, then becomes the browser: every process Chromium forks is born in
 * the task's groups. `setpriv` drops to the browser's own uid and ties the browser's life to
 * the service's (--pdeathsig): a killed service leaves no browser behind.
 */
export const JOIN_AND_EXEC = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 97; shift; done; shift; exec "$@"';

export interface BrowserPoolOptions {
  executablePath: string;
  /** This node's name among others on the machine (see nodeKey): names its browser folders and cgroups. */
  nodeKey: string;
  /** The egress proxy (the SSRF guard): every page's context goes through it. */
  proxyUrl: string;
  /** Where the browser's own requests go: nowhere (ClosedDoor). */
  ownProxyUrl: string;
  log: Logger;
  /** The uids the browsers run as, one each; none when the service cannot switch users. */
  uids: BrowserUidPool;
  /** The most memory one task's browser (page, controller and Chromium's helpers) may use. */
  memoryBytes: number;
  /**
   * How each browser gets a root of its own with world-writable folders in memory of its own
   * (browser-mounts.ts), given browsers of their own uids: 'root' with CAP_SYS_ADMIN, which also
   * puts its folder in memory; 'user-namespace' through a user namespace the Landlock helper
   * makes, where its folder is in memory only the browser sees; or 'none'.
   */
  mounts: BrowserMounts;
  /**
   * Each browser in a network namespace of its own (browser-network.ts), where it has a root of
   * its own: tried at start, as a launch makes it; where it fails, the browsers share the node's
   * network and the node warns.
   */
  ownNetworks: boolean;
  /** The node's files of secrets, empty in each browser's root. */
  hiddenFiles: readonly string[];
  /** The Landlock domain each browser runs in (browser-confinement.ts), where the kernel has one. */
  confinement?: Confinement;
  /** The program that makes each browser's user namespace (mounts `user-namespace`): the Landlock helper's, which needs no Landlock for it. */
  namespaceHelper?: string;
  /** Browsers launched ahead, ready for the next task. */
  warm: number;
  /** Readies a launched browser for a task (its context and tabs), ahead of need. */
  prepare(browser: TaskBrowser): Promise<Stage>;
  look: BrowserLook;
}

/** A browser readied for a task: its context, our controller loaded in one tab, a blank tab for the page. */
export interface Stage {
  context: BrowserContext;
  controller: Page;
  page: Page;
  /** What the controller captures of the page's tab already. */
  captured: { width: number; height: number; frameRate: number };
}

/**
 * One task's own Chromium: its own processes, profile folder, cgroup and capture title, so
 * that no page can see, capture, slow or move another task's. 'lost' fires if it dies.
 */
export class TaskBrowser extends EventEmitter<{ lost: [] }> {
  private closing = false;
  /**
   * Rejects once the browser is gone, for whatever it ends. Playwright does not always settle a
   * call the browser's death cut off: a newPage() pending when the browser was killed stayed
   * pending (1 in 6 kills at moments spread over a spare's preparation, 2026-11-27), and a
   * start or a warm browser waiting on it would wait for ever.
   */
  readonly gone: Promise<never>;

  constructor(
    readonly browser: Browser,
    readonly captureTitle: string,
    /** The egress proxy, for its contexts. */
    private readonly proxyUrl: string,
    /** The folder that holds everything this browser writes; gone when it closes. */
    readonly dir: string,
    private readonly cgroup: TaskCgroup | undefined,
    private readonly log: Logger,
    /** The uid it runs as, its own; undefined = the service's. */
    readonly uid: number | undefined,
    private readonly onGone: () => void,
    /** Its network namespace, where it has one of its own: it reaches the node's loopback at NODE_FROM_BROWSER. */
    readonly network?: OwnNetwork,
  ) {
    super();
    this.gone = new Promise<never>((_, reject) => browser.once('disconnected', () => reject(new Error('the task\'s browser is gone'))));
    this.gone.catch(() => undefined);
    browser.once('disconnected', () => {
      if (!this.closing) {
        this.log.warn({ browser: path.basename(dir) }, 'a task\'s chromium died');
        this.emit('lost');
      }
      this.cleanUp();
    });
  }

  /**
   * A room's answer as this browser can use it: from a network of its own the node's loopback
   * is its gateway (the proxy it is given is named there too).
   */
  reachable(answerSdp: string): string {
    return this.network ? candidatesFromOwnNetwork(answerSdp) : answerSdp;
  }

  get profileDir(): string {
    return path.join(this.dir, 'profile');
  }

  get connected(): boolean {
    return this.browser.isConnected();
  }

  newContext(): Promise<BrowserContext> {
    // viewport null: the window's real size is what tab capture sees; emulation would lie.
    // The proxy per context, not the browser's: its own requests go to the closed door. (Playwright
    // adds the <-loopback> rule, so loopback goes through the proxy too.)
    return this.browser.newContext({ viewport: null, acceptDownloads: false, serviceWorkers: 'allow', proxy: { server: this.proxyUrl } });
  }

  /** What the kernel refused or ended in this browser at its limits so far (crashReason). */
  limitsHit(): LimitsHit {
    return this.cgroup?.limitsHit() ?? { oomKills: 0, pidsLimitHits: 0 };
  }

  /** How long its CPU ceiling has held this browser back, in seconds. */
  throttledSeconds(): number {
    return this.cgroup?.throttledSeconds() ?? 0;
  }

  /** CPU time the browser used so far, in seconds, when it has a cgroup. */
  cpuSeconds(): number {
    return this.cgroup?.cpuSeconds() ?? 0;
  }

  /** The browser's processes, when it has a cgroup. */
  pids(): number[] {
    return this.cgroup?.pids() ?? [];
  }

  private cleanUp(): void {
    // A uid still owned by a live helper is never handed out again (BrowserUidPool.take).
    this.onGone();
    this.network?.close();
    // Its helpers (the storage service flushing the profile) may outlive the browser's own
    // process and write on: the folder goes once its group is empty, or a moment later without one.
    const writersGone = this.cgroup ? this.cgroup.remove() : new Promise((r) => setTimeout(r, 200));
    void writersGone
      .catch((err: unknown) => this.log.warn({ err, browser: path.basename(this.dir) }, 'a closed browser\'s cgroup could not be removed'))
      .then(() => removeFolder(this.dir, FOLDER_REMOVAL_MS))
      .catch((err: unknown) => this.log.warn({ err, browser: path.basename(this.dir) }, 'a closed browser\'s folder could not be removed; the node\'s next start removes it'));
  }

  /** Ends it at once, as expected (the node stops): its processes are killed, no unload handler runs. */
  async kill(): Promise<void> {
    this.closing = true;
    this.network?.close();
    await this.cgroup?.remove();
  }

  /** Closes it gracefully (its pages' unload handlers run), within a grace; resolves once every process of it is gone. */
  async close(): Promise<void> {
    this.closing = true;
    if (this.browser.isConnected()) {
      const closed = this.browser.close();
      if (!(await settlesWithin(closed, CLOSE_GRACE_MS)) && this.cgroup) {
        this.log.info({ browser: path.basename(this.dir), graceMs: CLOSE_GRACE_MS }, 'a task\'s chromium did not close in time: its processes are killed');
        await this.cgroup.remove();
        // Its processes are gone; Playwright's close may never hear of it.
        await settlesWithin(closed, 1000);
      }
    }
    // The browser's own process ends first; its helpers (the storage service, the crash
    // handler) outlived it under load: a closed task holds its slot until they are gone too.
    await this.cgroup?.remove();
  }
}

/**
 * Chromium closes a browser gracefully, giving its pages their unload handlers; a page whose
 * main thread never yields held that up for 30 s (measured), its slot and its CPU with it.
 */
const CLOSE_GRACE_MS = 5_000;

/** A stable short name for this node's browser folders, cgroups and firewall rules, from its data folder. */
export function nodeKey(dataDir: string): string {
  let real = dataDir;
  try {
    real = realpathSync(dataDir);
  } catch {
    // not created yet; the configured path names it as well
  }
  return createHash('sha256').update(real).digest('hex').slice(0, 12);
}

/** A task's browser with its stage ready. */
export interface ReadyBrowser {
  browser: TaskBrowser;
  stage: Stage;
}

/** A browser launched (or being launched) ahead of need. */
interface Spare {
  ready: Promise<ReadyBrowser>;
  /** Still launching (at idle weight, so under load it may take a while). */
  launching: boolean;
  /** Gives it a task's share of CPU, at most `ceilingCores` (0: no ceiling): spares launch and wait at idle weight. */
  takeUp(ceilingCores: number): void;
  /** A task's weight until it is ready, for a launch the node's start waits for; idle again then, unless a task took it up. */
  hurry(): void;
  /**
   * Ends it for good (the node stops), at a task's weight: a ready one closes; one still launching
   * is killed with what it started so far. Resolves once that is gone.
   */
  end(): Promise<void>;
}

/** About how long a start takes on the node from taking a warm browser to its first frame sent (0.7-1.0 s here, README: Benchmarks). */
const REFILL_AFTER_START_MS = 1000;

/**
 * Launches an isolated Chromium per task, keeping `warm` of them ready. Everything a browser
 * writes lives in its own folder under a root of this node's, which a start clears of what a
 * killed earlier run left.
 */
export class BrowserPool {
  private readonly root: string;
  private cgroups: CgroupSupport | undefined;
  private readonly spares: Spare[] = [];
  private closed = false;
  private launched = 0;
  /** Whether the last launch worked, for health checks while no spare is kept. */
  private lastLaunchOk: boolean | undefined;
  private userAgent = '';
  private refillTimer: NodeJS.Timeout | undefined;
  private warnedSharedProc = false;
  private readonly enclosures: Enclosures;

  constructor(private readonly o: BrowserPoolOptions) {
    this.root = path.join(tmpdir(), `webcast-browsers-${o.nodeKey}`);
    this.enclosures = new Enclosures(o);
  }

  /** Clears what a killed run left (its cgroups, then its folders) and fills the warm pool; the first launch tells at once whether Chromium can run here. */
  async start(): Promise<void> {
    this.userAgent = this.o.look.userAgent ?? chromeUserAgent(await chromiumMajor(this.o.executablePath));
    // The cgroups first: their removal ends what a killed earlier run left, which could
    // otherwise still be writing into the folder removed next.
    this.cgroups = await openCgroups(`webcast-${this.o.nodeKey}`);
    await removeFolder(this.root, FOLDER_REMOVAL_MS);
    // Not recursive: if anyone made the folder again in between, this fails rather than use theirs.
    mkdirSync(this.root, { mode: 0o711 });
    // The browsers' uids pass through to their own folders, and see no one else's.
    chmodSync(this.root, 0o711);
    if (this.o.ownNetworks) {
      const why = await this.enclosures.whyNoOwnNetwork(this.root);
      this.enclosures.ownNetworks = why === undefined;
      if (why === undefined) this.o.log.info('each browser gets a network namespace of its own, with slirp4netns as its way out');
      else this.o.log.warn({ reason: why }, 'browsers share the node\'s network namespace: code out of a page\'s sandbox could read the machine\'s socket tables (README: Security model)');
    }
    if (!this.cgroups) this.o.log.warn('no cgroup can be made here (not root, nothing delegated): page memory and CPU are not bounded');
    else if (!this.cgroups.cpuCeilings) this.o.log.warn('this kernel has no CPU bandwidth control (CONFIG_CFS_BANDWIDTH): tasks get a fair share of CPU but no ceiling');
    this.refill();
    // The node listens only once this first launch worked: at idle weight, a machine kept busy
    // by anything else (another node's tasks) would hold the start back for as long as it stays
    // busy (a restarted test node's took over 20 s beside another test file's tasks).
    const first = this.spares[0] ?? this.spare();
    first.hurry();
    const ready = await first.ready;
    if (!this.spares.includes(first)) await ready.browser.close();
  }

  private refill(): void {
    while (!this.closed && this.spares.length < this.o.warm) {
      const spare = this.spare();
      spare.ready.catch((err: unknown) => {
        // A spare still launching when the service stops (Ctrl-C) fails with it: no fault.
        if (this.closed) this.o.log.debug({ err }, 'a spare browser\'s launch ended by the shutdown');
        else this.o.log.error({ err }, 'chromium failed to start');
        const i = this.spares.indexOf(spare);
        if (i >= 0) this.spares.splice(i, 1);
      });
      this.spares.push(spare);
    }
  }

  /**
   * The next spare is launched once the start that took one is past its busiest part: its
   * launch (folder, cgroups, mount and Chromium's spawn, each a step on this event loop) would
   * otherwise run inside that start. A start that finds no spare meanwhile launches its own, as
   * it would with an empty pool.
   */
  private refillAfterStart(): void {
    if (this.refillTimer) return;
    this.refillTimer = setTimeout(() => {
      this.refillTimer = undefined;
      this.refill();
    }, REFILL_AFTER_START_MS);
  }

  /**
   * A browser of the task's own, readied for its page. Spares launch and wait at idle CPU
   * weight (their cgroup's), and the pool is refilled after the start (refillAfterStart), so
   * refilling it slows neither a start nor anything else the node runs; the one taken gets a
   * task's share at once, even while it is still launching, and at most `ceilingCores` of CPU
   * (0: no ceiling).
   */
  async acquire(ceilingCores: number): Promise<ReadyBrowser> {
    let failure: unknown;
    // A spare that died while it waited is replaced once.
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const spare = this.spares.shift() ?? this.spare();
      spare.takeUp(ceilingCores);
      this.refillAfterStart();
      try {
        const ready = await spare.ready;
        if (ready.browser.connected) return ready;
        await ready.browser.close();
      } catch (err) {
        failure = err;
      }
    }
    throw failure instanceof Error ? failure : new Error('the browser closed before it could be used');
  }

  private spare(): Spare {
    this.launched += 1;
    const id = `${this.launched}-${randomBytes(4).toString('hex')}`;
    const cgroup = this.cgroups?.create(id, this.o.memoryBytes);
    let launched: TaskBrowser | undefined;
    const ready = this.launch(id, cgroup).then(async (browser) => {
      launched = browser;
      try {
        return { browser, stage: await Promise.race([this.o.prepare(browser), browser.gone]) };
      } catch (err) {
        await browser.close();
        throw err;
      }
    });
    let taken = false;
    const spare: Spare = {
      ready,
      launching: true,
      takeUp: (cores) => {
        taken = true;
        cgroup?.runAsTask(cores);
      },
      hurry: () => {
        cgroup?.runAsTask(0);
        const idle = (): void => {
          try {
            if (!taken) cgroup?.runIdle();
          } catch {
            // The launch failed and its group is gone with it.
          }
        };
        ready.then(idle, idle);
      },
      end: async () => {
        // At idle weight a busy machine starves even its exit (a stop's removal of the folders
        // found a helper still writing, under load).
        spare.takeUp(0);
        // Without a group of its own, one still launching can only finish sooner and be closed then.
        if (!spare.launching || !cgroup) {
          await ready.then((r) => r.browser.close(), () => undefined);
          return;
        }
        // Launching it and loading its controller only to close it held a stop 2-3 s on an idle
        // machine, 12-17 s on a busy one. Its launch or preparation then fails, but need not be
        // waited for: a Playwright call cut off by the browser's death did not always settle (a
        // test node's stop waited for one for minutes, once in about 25 stops under load).
        if (launched) await launched.kill();
        else await cgroup.remove();
      },
    };
    ready.then(() => (spare.launching = false), () => (spare.launching = false));
    return spare;
  }

  /**
   * Chromium starts and answers: the next spare does, or (with no spare kept, or while it is
   * still launching after a launch that worked) the last launch did.
   */
  async healthy(): Promise<boolean> {
    const spare = this.spares[0];
    if (spare && !(spare.launching && this.lastLaunchOk)) return (await spare.ready.catch(() => undefined))?.browser.connected ?? false;
    return this.lastLaunchOk ?? false;
  }

  /** The folder under which every browser of this pool keeps its profile (on their command lines). */
  get folder(): string {
    return this.root;
  }

  private async launch(id: string, cgroup: TaskCgroup | undefined): Promise<TaskBrowser> {
    const dir = path.join(this.root, id);
    const enclosure = await this.enclosures.prepare(dir);
    const { uid, ownNetwork, giveUids } = enclosure;
    const captureTitle = `webcast-capture-${randomBytes(12).toString('hex')}`;
    const started = Date.now();
    const join = ['/bin/sh', '-c', JOIN_AND_EXEC, 'webcast-join-cgroups', ...(cgroup?.procsFiles ?? []), '--'];
    let network: OwnNetwork | undefined;
    let browser: Browser | undefined;
    try {
      network = await this.enclosures.networkBefore(enclosure, join);
      browser = await chromium.launch({
        executablePath: '/bin/sh',
        // Playwright's defaults mute audio and disable features tab capture needs.
        ignoreDefaultArgs: true,
        args: [
          ...join.slice(1),
          ...this.enclosures.command(enclosure, network),
          this.o.executablePath,
          ...chromiumArgs({ userDataDir: path.join(dir, 'profile'), ownProxyUrl: this.o.ownProxyUrl, captureTitle, locale: this.o.look.locale, userAgent: this.userAgent, ownNetwork }),
        ],
        // Nothing of the service's environment (keys, tokens) reaches the browser.
        env: { PATH: '/usr/bin:/bin', HOME: path.join(dir, 'home'), TMPDIR: path.join(dir, 'tmp'), XDG_CONFIG_HOME: path.join(dir, 'home'), XDG_CACHE_HOME: path.join(dir, 'home'), TZ: this.o.look.timezone },
        // Downloads are refused (acceptDownloads: false); this folder only proves it stays empty.
        artifactsDir: path.join(dir, 'downloads'),
        handleSIGINT: false,
        handleSIGTERM: false,
        handleSIGHUP: false,
      });
      network ??= await this.enclosures.networkAfter(enclosure, join, cgroup);
      this.o.log.debug({ browser: id, ms: Date.now() - started }, 'chromium started');
      if (enclosure.ownRoot && !this.warnedSharedProc && sharesNodeProc(dir)) {
        this.warnedSharedProc = true;
        this.o.log.warn('a browser\'s namespace cannot have a /proc of its own here (a container that masks parts of /proc?): code out of a page\'s sandbox would see every process of the machine (README: Security model)');
      }
      this.lastLaunchOk = true;
      // From its own network the node's loopback is the namespace's gateway.
      const proxyUrl = network ? `http://${NODE_FROM_BROWSER}:${new URL(this.o.proxyUrl).port}` : this.o.proxyUrl;
      return new TaskBrowser(browser, captureTitle, proxyUrl, dir, cgroup, this.o.log, uid, giveUids, network);
    } catch (err) {
      this.lastLaunchOk = false;
      network?.close();
      if (browser) await settlesWithin(browser.close().catch(() => undefined), CLOSE_GRACE_MS);
      giveUids();
      await cgroup?.remove();
      await removeFolder(dir, FOLDER_REMOVAL_MS).catch(() => undefined);
      throw err;
    }
  }

  /** Closes the warm browsers; the tasks' own are closed by their sessions first. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.refillTimer);
    const warm = this.spares.splice(0);
    const launching = warm.filter((spare) => spare.launching).length;
    if (launching > 0) this.o.log.debug({ browsers: launching }, 'warm browsers still launching are ended');
    await Promise.all(warm.map((spare) => spare.end()));
    try {
      await removeFolder(this.root, FOLDER_REMOVAL_MS);
    } catch (err) {
      // A helper of a closing browser still writes there. No fault of the shutdown: the next
      // start of this node removes the folder before anything else.
      this.o.log.warn({ err, folder: this.root }, 'the browsers\' folder could not be removed yet; the next start removes it');
    }
  }
}
