import { isIP } from 'node:net';
import { readFileSync } from 'node:fs';
import { checkWhipTemplate } from './rooms/whip/whip-endpoints.js';
import { availableParallelism, totalmem } from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { DEFAULT_BROWSER_UIDS, parseBrowserUids, type BrowserUids } from './capture/browser-user.js';

/**
 * Every setting of the service. Environment variables win over the optional JSON config file
 * named by WEBCAST_CONFIG, which wins over the defaults.
 */
export interface RateLimits {
  StartWebcast: number;
  StopWebcast: number;
  GetWebCastTask: number;
  /** Ours, beside the vendor's three: for the console and the CLI. */
  ListWebcastTasks: number;
  ListWebcastTaskEvents: number;
  ListWebcastNodes: number;
  DrainWebcastNode: number;
}

export interface Config {
  host: string;
  port: number;
  dataDir: string;
  accessKey: string | undefined;
  secretKey: string | undefined;
  /** JSON file of several key pairs, each bound to AppIds. */
  keysFile: string | undefined;
  region: string;
  /** Requests per second, per access key and action. */
  rateLimits: RateLimits;
  /** How far X-Date may be from now. */
  maxClockSkewMs: number;
  logLevel: string;
  /** Runs tasks here (Chromium, Janus); false for a node that only answers the API. */
  worker: boolean;
  /** An external Janus (ws://…); undefined = start the embedded one. */
  /** Where pages are published: the (embedded or external) Janus, or any WHIP endpoint. */
  roomBackend: 'janus' | 'whip';
  /** WEBCAST_WHIP_FILE: a WHIP URL template and token per AppId. */
  whipFile: string | undefined;
  /** WEBCAST_WHIP_URL and WEBCAST_WHIP_TOKEN: for every AppId the file does not name. */
  whipUrl: string | undefined;
  whipToken: string | undefined;
  janusUrl: string | undefined;
  /** The external Janus's api_secret (the embedded one makes its own). */
  janusApiSecret: string | undefined;
  /** The captured picture is held this long before encoding, to meet Chromium's later tab audio. */
  videoDelayMs: number;
  /** The most CPU one task's browser may use, in thousandths of a core (0: none); undefined: by its layers. */
  taskCpuMillicores: number | undefined;
  /** The embedded Janus offers media on these interfaces or addresses too (console viewers elsewhere). */
  janusIceInterfaces: string[];
  /** The embedded Janus's address as seen from outside a NAT. */
  janusPublicIp: string | undefined;
  /** Tasks on air at once, at most (by cost admission, usually fewer). */
  maxTasks: number;
  /** 'cost': tasks are admitted by their cost against the load measured; 'count': up to maxTasks. */
  admission: 'cost' | 'count';
  /** The share of the node's cores that tasks may fill under cost admission. */
  cpuBudget: number;
  queueSize: number;
  /** Hosts and CIDRs the cloud browser may reach although they are loopback or private. */
  urlAllowlist: string[];
  chromiumPath: string;
  /** The uids the cloud browsers run as, one each, when the service runs as root. */
  browserUids: BrowserUids;
  /** The most memory one task's browser may use, in MB; over it the page is rescheduled. */
  pageMemoryMb: number;
  /** Browsers launched ahead of need, so that a Start does not wait for one. */
  browserPool: number;
  videoCodec: 'VP8' | 'H264';
  /** JSON file of callback URLs and secrets per AppId. */
  callbacksFile: string | undefined;
  /** Reschedules of a task (a fresh browser context) before it fails. */
  maxReschedules: number;
  /** A resumed task that saw its node die within this long, three times running, is failed. */
  resumeStableMs: number;
  /** What pages see: language, time zone, User-Agent (undefined = Chrome's own). */
  browserLocale: string;
  browserTimezone: string;
  browserUserAgent: string | undefined;
  /** One callback URL and secret for every AppId the file does not name. */
  callbackUrl: string | undefined;
  callbackSecret: string | undefined;
  /** postgres://… : this node is one of a cluster on that database; undefined = SQLite in the data folder. */
  databaseUrl: string | undefined;
  /** A worker's hold on its tasks; a worker silent for this long loses them to the others. */
  leaseMs: number;
}

const DEFAULT_RATE_LIMITS: RateLimits = { StartWebcast: 150, StopWebcast: 150, GetWebCastTask: 60, ListWebcastTasks: 20, ListWebcastTaskEvents: 60, ListWebcastNodes: 20, DrainWebcastNode: 20 };

const fileSchema = z
  .object({
    WEBCAST_HOST: z.string(),
    WEBCAST_PORT: z.union([z.string(), z.number()]),
    WEBCAST_DATA_DIR: z.string(),
    WEBCAST_ACCESS_KEY: z.string(),
    WEBCAST_SECRET_KEY: z.string(),
    WEBCAST_KEYS_FILE: z.string(),
    WEBCAST_REGION: z.string(),
    WEBCAST_RATE_LIMITS: z.string(),
    WEBCAST_LOG_LEVEL: z.string(),
    WEBCAST_WORKER: z.union([z.string(), z.boolean()]),
    WEBCAST_JANUS_URL: z.string(),
    WEBCAST_ROOM_BACKEND: z.string(),
    WEBCAST_WHIP_FILE: z.string(),
    WEBCAST_WHIP_URL: z.string(),
    WEBCAST_WHIP_TOKEN: z.string(),
    WEBCAST_JANUS_ICE_INTERFACES: z.string(),
    WEBCAST_JANUS_PUBLIC_IP: z.string(),
    WEBCAST_MAX_TASKS: z.union([z.string(), z.number()]),
    WEBCAST_ADMISSION: z.string(),
    WEBCAST_CPU_BUDGET_PERCENT: z.union([z.string(), z.number()]),
    WEBCAST_QUEUE_SIZE: z.union([z.string(), z.number()]),
    WEBCAST_URL_ALLOWLIST: z.string(),
    WEBCAST_DATABASE_URL: z.string(),
    WEBCAST_JANUS_API_SECRET: z.string(),
    WEBCAST_LEASE_SECONDS: z.union([z.string(), z.number()]),
    WEBCAST_CHROMIUM_PATH: z.string(),
    WEBCAST_BROWSER_UIDS: z.string(),
    WEBCAST_PAGE_MEMORY_MB: z.union([z.string(), z.number()]),
    WEBCAST_TASK_CPU_MILLICORES: z.union([z.string(), z.number()]),
    WEBCAST_BROWSER_POOL: z.union([z.string(), z.number()]),
    WEBCAST_VIDEO_CODEC: z.string(),
    WEBCAST_VIDEO_DELAY_MS: z.union([z.string(), z.number()]),
    WEBCAST_CALLBACKS_FILE: z.string(),
    WEBCAST_MAX_RESCHEDULES: z.union([z.string(), z.number()]),
    WEBCAST_RESUME_STABLE_SECONDS: z.union([z.string(), z.number()]),
    WEBCAST_BROWSER_LOCALE: z.string(),
    WEBCAST_BROWSER_TIMEZONE: z.string(),
    WEBCAST_BROWSER_USER_AGENT: z.string(),
    WEBCAST_CALLBACK_URL: z.string(),
    WEBCAST_CALLBACK_SECRET: z.string(),
  })
  .partial()
  .strict();

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** The customers this service is built for are mostly in mainland China. */
const DEFAULT_BROWSER_LOCALE = 'zh-CN';
const DEFAULT_BROWSER_TIMEZONE = 'Asia/Shanghai';

function browserLocale(raw: string | undefined): string {
  if (raw === undefined || raw === '') return DEFAULT_BROWSER_LOCALE;
  // It goes on Chromium's command line: a plain language tag, nothing else.
  let canonical: string | undefined;
  try {
    canonical = /^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$/.test(raw) ? Intl.getCanonicalLocales(raw)[0] : undefined;
  } catch {
    canonical = undefined;
  }
  if (!canonical) throw new ConfigError(`WEBCAST_BROWSER_LOCALE must be a language tag such as zh-CN, zh-TW or en-US, got "${raw}"`);
  return canonical;
}

function browserTimezone(raw: string | undefined): string {
  if (raw === undefined || raw === '') return DEFAULT_BROWSER_TIMEZONE;
  const known = /^[A-Za-z0-9_+\-/]+$/.test(raw) && (() => {
    try {
      return new Intl.DateTimeFormat('en', { timeZone: raw }).resolvedOptions().timeZone !== undefined;
    } catch {
      return false;
    }
  })();
  if (!known) throw new ConfigError(`WEBCAST_BROWSER_TIMEZONE must be an IANA time zone such as Asia/Shanghai or UTC, got "${raw}"`);
  return raw;
}

function browserUserAgent(raw: string | undefined): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  // eslint-disable-next-line no-control-regex -- control characters are what is refused
  if (raw.length > 512 || /[\u0000-\u001f\u007f]/.test(raw)) throw new ConfigError('WEBCAST_BROWSER_USER_AGENT must be one line of at most 512 characters');
  return raw;
}

function publicIp(raw: string | undefined): string | undefined {
  if (!raw) return undefined;
  if (!isIP(raw)) throw new ConfigError(`WEBCAST_JANUS_PUBLIC_IP must be an IP address, got "${raw}"`);
  return raw;
}

function parsePort(raw: string): number {
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`WEBCAST_PORT must be an integer in [0, 65535], got "${raw}"`);
  return port;
}

/** `StartWebcast=150,StopWebcast=150,GetWebCastTask=60`; names not given keep their default. */
export function parseRateLimits(raw: string | undefined): RateLimits {
  const limits = { ...DEFAULT_RATE_LIMITS };
  if (!raw) return limits;
  for (const part of raw.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [name, value] = part.split('=').map((s) => s.trim());
    if (!name || !(name in limits)) {
      throw new ConfigError(`WEBCAST_RATE_LIMITS: unknown action "${name ?? ''}"; expected ${Object.keys(limits).join(', ')}`);
    }
    const qps = Number(value);
    if (!Number.isInteger(qps) || qps < 1) throw new ConfigError(`WEBCAST_RATE_LIMITS: ${name} must be a positive integer, got "${value ?? ''}"`);
    limits[name as keyof RateLimits] = qps;
  }
  return limits;
}

function intSetting(name: string, raw: string | undefined, fallback: number, ok: (n: number) => boolean, what: string): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || !ok(n)) throw new ConfigError(`${name} must be ${what}, got "${raw}"`);
  return n;
}

const positiveInt = (name: string, raw: string | undefined, fallback: number): number => intSetting(name, raw, fallback, (n) => n >= 1, 'a positive integer');
const nonNegativeInt = (name: string, raw: string | undefined, fallback: number): number => intSetting(name, raw, fallback, (n) => n >= 0, '0 or a positive integer');
const boundedInt = (name: string, raw: string | undefined, fallback: number, min: number, max: number): number =>
  intSetting(name, raw, fallback, (n) => n >= min && n <= max, `an integer in [${min}, ${max}]`);

/**
 * Chromium hands a captured tab's audio to WebRTC about this much later than its picture
 * (measured with the bench's flash-and-beep page, the audio service in the browser process:
 * 41–53 ms late without it; 7 and 12 ms early with 45, 6 ms early with 35).
 */
const DEFAULT_VIDEO_DELAY_MS = 35;

/** Below a tenth of a core no task can encode its picture: such a ceiling is a typo, not a choice. */
function taskCpuMillicores(raw: string | undefined): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  return intSetting('WEBCAST_TASK_CPU_MILLICORES', raw, 0, (n) => n === 0 || (n >= 100 && n <= 1_000_000), '0 (no ceiling) or an integer in [100, 1000000] (thousandths of a core)');
}

function bool(name: string, raw: string | undefined, fallback: boolean): boolean {
  if (raw === undefined || raw === '') return fallback;
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new ConfigError(`${name} must be true or false, got "${raw}"`);
}

/**
 * Tasks one node puts on air at once at most unless WEBCAST_MAX_TASKS says otherwise. By cost,
 * admission decides below that: a bound of six per core leaves it room (a light 720p15 page
 * takes about a third of a core). By count, one per core is safe for busy pages.
 */
export const defaultMaxTasks = (admission: 'cost' | 'count'): number => Math.max(1, availableParallelism()) * (admission === 'cost' ? 6 : 1);

function roomBackendKind(raw: string | undefined): 'janus' | 'whip' {
  if (raw === undefined || raw === '' || raw === 'janus') return 'janus';
  if (raw === 'whip') return 'whip';
  throw new ConfigError(`WEBCAST_ROOM_BACKEND must be janus or whip, got "${raw}"`);
}

function whipUrl(raw: string | undefined): string | undefined {
  if (!raw) return undefined;
  try {
    return checkWhipTemplate(raw, 'WEBCAST_WHIP_URL');
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
}

function admissionMode(raw: string | undefined): 'cost' | 'count' {
  if (raw === undefined || raw === '' || raw === 'cost') return 'cost';
  if (raw === 'count') return 'count';
  throw new ConfigError(`WEBCAST_ADMISSION must be cost or count, got "${raw}"`);
}

/**
 * A page may use what the node holds for one task: three quarters of the memory shared by the
 * tasks it runs at once, at most 2 GB (a heavy WebGL dashboard needs about 600 MB).
 */
export const defaultPageMemoryMb = (maxTasks: number): number =>
  Math.max(256, Math.min(2048, Math.floor((0.75 * totalmem()) / 2 ** 20 / Math.max(1, maxTasks))));

function browserUids(raw: string | undefined): BrowserUids {
  try {
    return parseBrowserUids(raw || DEFAULT_BROWSER_UIDS);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
}

function readConfigFile(file: string): Record<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`cannot read the config file ${file}: ${(err as Error).message}`);
  }
  const result = fileSchema.safeParse(parsed);
  if (!result.success) throw new ConfigError(`config file ${file}: ${result.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`);
  return Object.fromEntries(Object.entries(result.data).map(([k, v]) => [k, String(v)]));
}

function videoCodec(raw: string | undefined): 'VP8' | 'H264' {
  const v = (raw ?? 'vp8').toUpperCase();
  if (v === 'VP8' || v === 'H264') return v;
  throw new ConfigError(`WEBCAST_VIDEO_CODEC must be vp8 or h264, got "${raw ?? ''}"`);
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const file = env.WEBCAST_CONFIG ? readConfigFile(env.WEBCAST_CONFIG) : {};
  const get = (name: string): string | undefined => env[name] ?? file[name];
  const accessKey = get('WEBCAST_ACCESS_KEY') || undefined;
  const secretKey = get('WEBCAST_SECRET_KEY') || undefined;
  if ((accessKey === undefined) !== (secretKey === undefined)) {
    throw new ConfigError('set both WEBCAST_ACCESS_KEY and WEBCAST_SECRET_KEY, or neither (a pair is then generated)');
  }
  const admission = admissionMode(get('WEBCAST_ADMISSION'));
  const maxTasks = positiveInt('WEBCAST_MAX_TASKS', get('WEBCAST_MAX_TASKS'), defaultMaxTasks(admission));
  const roomBackend = roomBackendKind(get('WEBCAST_ROOM_BACKEND'));
  if (roomBackend === 'whip' && !get('WEBCAST_WHIP_URL') && !get('WEBCAST_WHIP_FILE')) {
    throw new ConfigError('WEBCAST_ROOM_BACKEND=whip needs WEBCAST_WHIP_URL (a template such as https://sfu.example.com/whip/{RoomId}) or WEBCAST_WHIP_FILE');
  }
  if (roomBackend === 'janus' && get('WEBCAST_DATABASE_URL') && bool('WEBCAST_WORKER', get('WEBCAST_WORKER'), true) && !get('WEBCAST_JANUS_URL')) {
    // An embedded Janus would hold this worker's publishers in rooms of their own: viewers of
    // a room must meet every publisher of it in one SFU, whichever worker runs the task.
    throw new ConfigError('a worker of a cluster (WEBCAST_DATABASE_URL) must use the cluster\'s one Janus: set WEBCAST_JANUS_URL (see README, Several nodes)');
  }
  return {
    host: get('WEBCAST_HOST') ?? '127.0.0.1',
    port: parsePort(get('WEBCAST_PORT') ?? '8080'),
    dataDir: path.resolve(get('WEBCAST_DATA_DIR') ?? './data'),
    accessKey,
    secretKey,
    keysFile: get('WEBCAST_KEYS_FILE') || undefined,
    region: get('WEBCAST_REGION') ?? 'cn-north-1',
    rateLimits: parseRateLimits(get('WEBCAST_RATE_LIMITS')),
    maxClockSkewMs: 15 * 60 * 1000,
    logLevel: get('WEBCAST_LOG_LEVEL') ?? 'info',
    worker: bool('WEBCAST_WORKER', get('WEBCAST_WORKER'), true),
    roomBackend,
    whipFile: get('WEBCAST_WHIP_FILE') || undefined,
    whipUrl: whipUrl(get('WEBCAST_WHIP_URL')),
    whipToken: get('WEBCAST_WHIP_TOKEN') || undefined,
    janusUrl: get('WEBCAST_JANUS_URL') || undefined,
    janusApiSecret: get('WEBCAST_JANUS_API_SECRET') || undefined,
    janusIceInterfaces: (get('WEBCAST_JANUS_ICE_INTERFACES') ?? '').split(',').map((s) => s.trim()).filter(Boolean),
    janusPublicIp: publicIp(get('WEBCAST_JANUS_PUBLIC_IP')),
    maxTasks,
    admission,
    cpuBudget: boundedInt('WEBCAST_CPU_BUDGET_PERCENT', get('WEBCAST_CPU_BUDGET_PERCENT'), 90, 10, 100) / 100,
    queueSize: positiveInt('WEBCAST_QUEUE_SIZE', get('WEBCAST_QUEUE_SIZE'), 32),
    urlAllowlist: (get('WEBCAST_URL_ALLOWLIST') ?? '').split(',').map((s) => s.trim()).filter(Boolean),
    chromiumPath: get('WEBCAST_CHROMIUM_PATH') ?? '/usr/bin/chromium',
    browserUids: browserUids(get('WEBCAST_BROWSER_UIDS')),
    pageMemoryMb: boundedInt('WEBCAST_PAGE_MEMORY_MB', get('WEBCAST_PAGE_MEMORY_MB'), defaultPageMemoryMb(maxTasks), 128, 65536),
    browserPool: boundedInt('WEBCAST_BROWSER_POOL', get('WEBCAST_BROWSER_POOL'), 1, 0, 8),
    videoCodec: videoCodec(get('WEBCAST_VIDEO_CODEC')),
    videoDelayMs: boundedInt('WEBCAST_VIDEO_DELAY_MS', get('WEBCAST_VIDEO_DELAY_MS'), DEFAULT_VIDEO_DELAY_MS, 0, 500),
    taskCpuMillicores: taskCpuMillicores(get('WEBCAST_TASK_CPU_MILLICORES')),
    callbacksFile: get('WEBCAST_CALLBACKS_FILE') || undefined,
    maxReschedules: nonNegativeInt('WEBCAST_MAX_RESCHEDULES', get('WEBCAST_MAX_RESCHEDULES'), 3),
    resumeStableMs: boundedInt('WEBCAST_RESUME_STABLE_SECONDS', get('WEBCAST_RESUME_STABLE_SECONDS'), 60, 1, 3600) * 1000,
    browserLocale: browserLocale(get('WEBCAST_BROWSER_LOCALE')),
    browserTimezone: browserTimezone(get('WEBCAST_BROWSER_TIMEZONE')),
    browserUserAgent: browserUserAgent(get('WEBCAST_BROWSER_USER_AGENT')),
    callbackUrl: get('WEBCAST_CALLBACK_URL') || undefined,
    callbackSecret: get('WEBCAST_CALLBACK_SECRET') || undefined,
    databaseUrl: databaseUrl(get('WEBCAST_DATABASE_URL')),
    leaseMs: boundedInt('WEBCAST_LEASE_SECONDS', get('WEBCAST_LEASE_SECONDS'), 10, 3, 300) * 1000,
  };
}

function databaseUrl(raw: string | undefined): string | undefined {
  if (!raw) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('WEBCAST_DATABASE_URL must be a URL: postgres://user:password@host:port/database');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') throw new ConfigError(`WEBCAST_DATABASE_URL must start with postgres://, got ${url.protocol}//`);
  return raw;
}
