import type { Logger } from 'pino';
import type { Config } from './config.js';
import ipaddr from 'ipaddr.js';
import { BrowserPool, nodeKey } from './capture/cloud-browser.js';
import { BrowserFirewall, type NodeOpenings } from './capture/browser-firewall.js';
import { costFactorSaver, loadCostFactor } from './scheduler/cost-factor-file.js';
import { BrowserUidPool } from './capture/browser-user.js';
import { CONFINE_HELPER, probeConfinement, SCOPED_ABI } from './capture/browser-confinement.js';
import { canMakeUserNamespaces, type BrowserMounts } from './capture/browser-mounts.js';
import { copiesIn, everyoneReads, realPaths, secretFiles } from './secret-files.js';
import { hasCapabilities } from './capture/privileges.js';
import { ClosedDoor } from './capture/closed-door.js';
import { EgressPolicy } from './capture/egress-policy.js';
import { EgressProxyProcess } from './capture/egress-proxy-process.js';
import { EmbeddedJanus } from './rooms/janus/embedded-janus.js';
import { JanusRoomBackend } from './rooms/janus/janus-rooms.js';
import type { RoomBackend } from './rooms/room-backend.js';
import { WhipEndpoints } from './rooms/whip/whip-endpoints.js';
import { WhipRoomBackend } from './rooms/whip/whip-rooms.js';
import { Engine } from './scheduler/engine.js';
import { Admission, NODE_ADMISSION, ProcLoadGauge } from './scheduler/admission.js';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { prepareStage } from './capture/capture-session.js';
import type { Clock, TaskStore } from './tasks/ports.js';
import type { Metrics } from './metrics.js';

/** The media side of a node: the SSRF proxy, Janus (embedded or external), Chromium, the engine. */
export interface Worker {
  engine: Engine;
  rooms: RoomBackend;
  browsers: BrowserPool;
  janus: EmbeddedJanus | undefined;
  /** Janus and Chromium answer. */
  readiness(): Promise<Record<string, boolean>>;
  close(): Promise<void>;
}

const RECONNECT_INTERVAL_MS = 1000;

/** What this node's browsers must always reach: its proxy, and what the operator's allowlist opens. */
function openingsFor(config: Config, proxyUrl: string): NodeOpenings {
  return {
    proxyPort: Number(new URL(proxyUrl).port),
    // Host names in the allowlist are for the proxy, which resolves them on every request.
    allowlist: config.urlAllowlist.filter((a) => ipaddr.isValid(a) || ipaddr.isValidCIDR(a)),
  };
}

/** The room backend the config names; for Janus, the embedded one started unless an external one is set. */
async function openRooms(config: Config, log: Logger): Promise<{ rooms: RoomBackend; janus: EmbeddedJanus | undefined; reconnect: (() => Promise<void>) | undefined }> {
  const roomsLog = log.child({ module: 'rooms' });
  if (config.roomBackend === 'whip') {
    return { rooms: new WhipRoomBackend(WhipEndpoints.load({ file: config.whipFile, url: config.whipUrl, token: config.whipToken }), roomsLog), janus: undefined, reconnect: undefined };
  }
  let janus: EmbeddedJanus | undefined;
  let janusUrl = config.janusUrl;
  let janusSecret = config.janusApiSecret;
  if (!janusUrl) {
    janus = new EmbeddedJanus({ dataDir: config.dataDir, log: log.child({ module: 'janus' }), iceInterfaces: config.janusIceInterfaces, publicIp: config.janusPublicIp });
    janusUrl = (await janus.start()).wsUrl;
    janusSecret = janus.apiSecret;
  }
  const url = janusUrl;
  const rooms = await JanusRoomBackend.connect(url, roomsLog, janusSecret);
  return { rooms, janus, reconnect: () => rooms.reconnect(url) };
}

export async function startWorker(config: Config, store: TaskStore, log: Logger, clock: Clock, metrics: Metrics): Promise<Worker> {
  // Its allowlist is checked here, where a bad entry stops the start with its reason.
  EgressPolicy.parseList(config.urlAllowlist.join(','));
  const proxy = new EgressProxyProcess({ allowlist: config.urlAllowlist, log: log.child({ module: 'egress' }), onRefused: () => metrics.egressRefusals.inc() });
  const proxyUrl = await proxy.listen();
  const door = new ClosedDoor();
  const ownProxyUrl = await door.listen();

  const uids = BrowserUidPool.forThisProcess(config.browserUids);
  const key = nodeKey(config.dataDir);
  // Before Janus: a node that may not run its browsers (its uids are another node's) starts nothing.
  let firewall: BrowserFirewall | undefined;
  let opened: Awaited<ReturnType<typeof openRooms>>;
  try {
    firewall = await BrowserFirewall.install(uids.range, key, openingsFor(config, proxyUrl), log.child({ module: 'firewall' }));
    opened = await openRooms(config, log);
  } catch (err) {
    await firewall?.remove();
    await proxy.close();
    await door.close();
    throw err;
  }
  const { rooms, janus, reconnect } = opened;
  const { confinement, missing } = await probeConfinement();
  let mounts: BrowserMounts = 'none';
  if (uids.range && hasCapabilities(['SYS_ADMIN'])) mounts = 'root';
  // The Landlock helper makes the user namespace, with or without Landlock in the kernel.
  else if (uids.range && existsSync(CONFINE_HELPER) && await canMakeUserNamespaces(CONFINE_HELPER, uids.range.first, uids.range.first + 1)) {
    mounts = 'user-namespace';
    log.info('no CAP_SYS_ADMIN: each browser gets a root and a folder in memory of its own in a user namespace');
  } else if (uids.range) {
    log.warn('no CAP_SYS_ADMIN and no user namespaces: each browser writes its folder to the node\'s disk and sees the node\'s files and world-writable folders (code out of a page\'s sandbox could fill them, and reach the node\'s UNIX socket files)');
  }
  if (!confinement) {
    log.warn({ reason: missing }, 'no Landlock domain for the browsers: code out of a page\'s sandbox could read what any local user may read, and reach UNIX sockets in the abstract namespace');
  } else if (confinement.abi < SCOPED_ABI) {
    log.warn({ landlockAbi: confinement.abi }, 'this kernel\'s Landlock (before Linux 6.12) confines the browsers\' files but not abstract UNIX sockets or signals');
  }
  // The files of secrets, and their copies and links in /etc, read empty in every browser's root.
  const secrets = realPaths(secretFiles(config));
  const copies = copiesIn('/etc', secrets);
  for (const file of copies.filter(everyoneReads)) {
    log.warn({ file }, 'this copy or link of a file of secrets is readable by every user of the machine (it reads empty in the browsers\' roots): remove it or chmod 600 it');
  }
  const hiddenFiles = [...secrets, ...copies];
  const browsers = new BrowserPool({
    executablePath: config.chromiumPath,
    nodeKey: key,
    proxyUrl,
    ownProxyUrl,
    log: log.child({ module: 'chromium' }),
    uids,
    memoryBytes: config.pageMemoryMb * 2 ** 20,
    mounts,
    // Tried at start by the pool, as a launch makes it.
    ownNetworks: uids.range !== undefined && mounts !== 'none',
    hiddenFiles,
    confinement,
    namespaceHelper: mounts === 'user-namespace' ? CONFINE_HELPER : undefined,
    warm: config.browserPool,
    prepare: (browser) => prepareStage(browser, config.videoDelayMs),
    look: { locale: config.browserLocale, timezone: config.browserTimezone, userAgent: config.browserUserAgent },
  });
  await browsers.start();
  let gauge: ProcLoadGauge | undefined;
  let admission: Admission | undefined;
  if (config.admission === 'cost') {
    gauge = new ProcLoadGauge(availableParallelism());
    gauge.start();
    const costFactor = loadCostFactor(config.dataDir);
    const save = costFactorSaver(config.dataDir, costFactor);
    const admissionLog = log.child({ module: 'admission' });
    if (costFactor !== undefined) admissionLog.info({ costFactor }, 'expecting tasks to cost what they took here before the restart: this many times the model');
    const onCostFactor = (f: number): void => {
      if (save(f)) admissionLog.info({ costFactor: Number(f.toFixed(2)) }, 'tasks here take this many times what the model says: the next ones are expected so');
    };
    admission = new Admission({ ...NODE_ADMISSION, gauge, headroom: config.cpuBudget, costFactor, onCostFactor });
  }
  const engine = new Engine({
    store,
    session: {
      browsers,
      media: firewall,
      memoryLimitMb: config.pageMemoryMb,
      rooms,
      proxy,
      log: log.child({ module: 'capture' }),
      onMonitor: (check, action) => metrics.monitorHits.inc({ check, action }),
      onPageCrash: (cause) => metrics.pageCrashes.inc({ cause }),
      onFramesSent: (frames) => metrics.framesPublished.inc(frames),
      onCpuThrottled: (seconds) => metrics.cpuThrottled.inc(seconds),
      onStartPhases: (phases) => {
        for (const [phase, ms] of Object.entries(phases)) metrics.startPhases.observe({ phase }, ms / 1000);
      },
    },
    clock,
    log: log.child({ module: 'engine' }),
    maxTasks: config.maxTasks,
    admission,
    maxQueue: config.queueSize,
    codec: config.videoCodec,
    videoDelayMs: config.videoDelayMs,
    taskCpuCores: config.taskCpuMillicores === undefined ? undefined : config.taskCpuMillicores / 1000,
    maxReschedules: config.maxReschedules,
    onFirstFrame: (seconds) => metrics.startLatency.observe(seconds),
    onSlotWait: (seconds) => metrics.startPhases.observe({ phase: 'slot' }, seconds),
  });

  let closing = false;
  // Janus went away (it died, or an external one restarted): reconnect, then put every task back.
  rooms.onReset(() => {
    const attempt = (): void => {
      if (closing || !reconnect) return;
      reconnect().then(
        () => {
          log.info('reconnected to janus; republishing the tasks on air');
          engine.republishAll('janus restarted');
        },
        () => setTimeout(attempt, RECONNECT_INTERVAL_MS).unref(),
      );
    };
    setTimeout(attempt, RECONNECT_INTERVAL_MS).unref();
  });

  return {
    engine,
    rooms,
    browsers,
    janus,
    async readiness() {
      const within = <T>(p: Promise<T>): Promise<boolean> =>
        Promise.race([p.then(() => true, () => false), new Promise<boolean>((r) => setTimeout(() => r(false), 2000).unref())]);
      const [roomsOk, chromiumOk] = await Promise.all([
        within(rooms.publishers({ appId: 'webcast', roomId: 'readyz' })),
        within(browsers.healthy().then((ok) => (ok ? true : Promise.reject(new Error('no browser'))))),
      ]);
      // A WHIP endpoint cannot be asked whether it would take a publisher without publishing.
      return { [config.roomBackend]: roomsOk, chromium: chromiumOk };
    },
    async close() {
      closing = true;
      await engine.close();
      gauge?.stop();
      await browsers.close();
      await firewall?.remove();
      await rooms.close();
      await janus?.stop();
      await proxy.close();
      await door.close();
    },
  };
}
