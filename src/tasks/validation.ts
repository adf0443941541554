import { z } from 'zod';
import {
  DEFAULT_MAX_RUNNING_TIME,
  DEFAULT_VIDEO_SOLUTION,
  type EventNotifyConfig,
  type MonitorConfig,
  type TaskKey,
  type TaskSpec,
  type TaskStatus,
  type VideoSolution,
} from './types.js';

/**
 * Validation of requests against the rules of the API. Failures are reported as
 * `RequestError`s that name the field and the rule, so the API layer can answer
 * without knowing any rule itself.
 */
export type RequestErrorKind = 'MissingParameter' | 'InvalidParameter';

export class RequestError extends Error {
  constructor(
    readonly kind: RequestErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'RequestError';
  }
}

const ID_RULE = 'must be 1 to 128 characters of a-z, A-Z, 0-9, _ @ - .';
const id = z.string({ error: `must be a string: ${ID_RULE}` }).regex(/^[a-zA-Z0-9_@\-.]{1,128}$/, { error: ID_RULE });

/** C0 controls and DEL: a URL parser drops TAB, CR and LF silently, so what ran would not be what was stored. */
// eslint-disable-next-line no-control-regex -- these characters are the point of the rule
const CONTROL = /[\u0000-\u001f\u007f]/;
/** Half of a UTF-16 pair on its own (JSON's "\ud800"): no character at all; stored, it comes back as U+FFFD. */
const LONE_SURROGATE = /\p{Cs}/u;

/** Text that is what it says: no control characters, no lone surrogates. */
const text = (what: string) =>
  z
    .string({ error: `must be a string holding ${what}` })
    .refine((v) => !CONTROL.test(v), { error: 'must not hold control characters (NUL, TAB, CR, LF, …); percent-encode them in a URL' })
    .refine((v) => !LONE_SURROGATE.test(v), { error: 'must be valid Unicode: it holds half of a UTF-16 surrogate pair' });

const MAX_URL_LENGTH = 1024;
const sourceUrl = text('an http(s) URL')
  .max(MAX_URL_LENGTH, { error: `must be at most ${MAX_URL_LENGTH} characters` })
  .refine(isHttpUrl, { error: 'must be an absolute http:// or https:// URL with a host' });

function isHttpUrl(value: string): boolean {
  if (!URL.canParse(value)) return false;
  const url = new URL(value);
  return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
}

/** An integer in [min, max]; with `zero`, 0 is also accepted and says what it means. */
function intIn(min: number, max: number, unit = '', zero?: string) {
  const rule = `must be ${zero ? `0 (${zero}) or ` : ''}an integer in [${min}, ${max}]${unit}`;
  return z
    .number({ error: rule })
    .int({ error: rule })
    .refine((v) => (zero !== undefined && v === 0) || (v >= min && v <= max), { error: rule });
}

/**
 * Go clients send 0 for a field they did not set; where 0 is outside the documented range
 * it means "use the default", as the vendor's docs say of absent fields.
 */
const intInOrUnset = (min: number, max: number, unit = '') => intIn(min, max, unit, 'the default');

function optional<T extends z.ZodType>(schema: T) {
  return schema.nullish();
}

const videoSolution = z.object({
  Width: optional(intInOrUnset(50, 1920, ' pixels')),
  Height: optional(intInOrUnset(50, 1080, ' pixels')),
  FrameRate: optional(intInOrUnset(1, 60, ' fps')),
  Bitrate: optional(intIn(0, 10_000, ' kbps')),
}, { error: 'must be an object' });

const monitorInterval = (min: number) => optional(intIn(min, 30, ' seconds', 'off'));

const monitorConfig = z.object({
  BlankCheckInterval: monitorInterval(2),
  FreezeCheckInterval: monitorInterval(2),
  CrashCheckInterval: monitorInterval(0),
}, { error: 'must be an object' });

const eventNotifyConfig = z.object({
  EnableEventNotify: optional(z.boolean({ error: 'must be true or false' })),
  StartTimeout: optional(intIn(0, 60, ' seconds')),
}, { error: 'must be an object' });

const startWebcast = z.object({
  AppId: id,
  RoomId: id,
  TaskId: id,
  UserId: id,
  SourceURL: sourceUrl,
  BusinessId: optional(text('text').max(128, { error: 'must be at most 128 characters' })),
  MaxRunningTime: optional(intInOrUnset(10, 86_400, ' seconds')),
  VideoSolutions: optional(z.array(videoSolution, { error: 'must be an array' }).max(2, { error: 'must have at most 2 entries' })),
  MonitorConfig: optional(monitorConfig),
  EventNotifyConfig: optional(eventNotifyConfig),
});

const taskKey = z.object({ AppId: id, RoomId: id, TaskId: id });
const roomQuery = z.object({ AppId: id, RoomId: id, TaskId: optional(z.union([z.literal(''), id], { error: ID_RULE })) });

const LIST_LIMIT_MAX = 100;
/** Query strings carry text; these are numbers written as text. */
const queryInt = (min: number, max: number) =>
  optional(z.union([z.literal(''), z.string().regex(/^\d{1,6}$/, { error: `must be an integer in [${min}, ${max}]` })], { error: `must be an integer in [${min}, ${max}]` }))
    .transform((v) => (v ? Number(v) : undefined))
    .refine((v) => v === undefined || (v >= min && v <= max), { error: `must be an integer in [${min}, ${max}]` });
const taskListQuery = z.object({
  AppId: id,
  RoomId: optional(z.union([z.literal(''), id], { error: ID_RULE })),
  Status: queryInt(1, 4),
  Limit: queryInt(1, LIST_LIMIT_MAX),
});

type Input = Record<string, unknown>;

function fieldName(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join('');
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = input;
  for (const p of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[p];
  }
  return v;
}

/** Missing required fields win over other faults, as clients fix those first. */
function toRequestError(input: unknown, error: z.ZodError): RequestError {
  const missing = error.issues.filter((i) => i.path.length > 0 && isAbsent(valueAt(input, i.path)));
  if (missing.length > 0) {
    return new RequestError('MissingParameter', `missing required parameter: ${missing.map((i) => fieldName(i.path)).join(', ')}`);
  }
  const text = error.issues
    .map((i) => `${fieldName(i.path)} ${i.message}${describeValue(valueAt(input, i.path))}`)
    .join('; ');
  return new RequestError('InvalidParameter', text);
}

/** An empty string is how clients in typed languages send a field they did not set. */
const isAbsent = (v: unknown): boolean => v === undefined || v === '';

function describeValue(v: unknown): string {
  if (v === undefined || (typeof v === 'object' && v !== null)) return '';
  const shown = typeof v === 'string' && v.length > 40 ? `${v.slice(0, 40)}…(${v.length} characters)` : v;
  return `, got ${JSON.stringify(shown)}`;
}

function parseWith<T>(schema: z.ZodType<T>, input: unknown): T {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new RequestError('InvalidParameter', 'the request must be a JSON object');
  }
  const result = schema.safeParse(input);
  if (!result.success) throw toRequestError(input, result.error);
  return result.data;
}

const evenUp = (n: number): number => (n % 2 === 0 ? n : n + 1);
const orDefault = (v: number | null | undefined, d: number): number => (v === undefined || v === null || v === 0 ? d : v);

function normalizeVideoSolution(v: z.infer<typeof videoSolution>): VideoSolution {
  return {
    Width: evenUp(orDefault(v.Width, DEFAULT_VIDEO_SOLUTION.Width)),
    Height: evenUp(orDefault(v.Height, DEFAULT_VIDEO_SOLUTION.Height)),
    FrameRate: orDefault(v.FrameRate, DEFAULT_VIDEO_SOLUTION.FrameRate),
    Bitrate: v.Bitrate ?? DEFAULT_VIDEO_SOLUTION.Bitrate,
  };
}

const pixels = (v: VideoSolution): number => v.Width * v.Height;

/** The page renders at the largest requested layer; the order of VideoSolutions is the customer's. */
export function renderSolution(spec: Pick<TaskSpec, 'VideoSolutions'>): VideoSolution {
  const [first, ...rest] = spec.VideoSolutions;
  return rest.reduce((a, b) => (pixels(b) > pixels(a) ? b : a), first ?? DEFAULT_VIDEO_SOLUTION);
}

/** Validates a StartWebcast body and fills every default. Odd sizes are rounded up to even. */
export function parseStartWebcast(input: unknown): TaskSpec {
  const body = parseWith(startWebcast, input);
  const solutions = (body.VideoSolutions ?? []).map(normalizeVideoSolution);
  if (solutions.length === 0) solutions.push({ ...DEFAULT_VIDEO_SOLUTION });
  const monitor: MonitorConfig = {
    BlankCheckInterval: body.MonitorConfig?.BlankCheckInterval ?? 0,
    FreezeCheckInterval: body.MonitorConfig?.FreezeCheckInterval ?? 0,
    CrashCheckInterval: body.MonitorConfig?.CrashCheckInterval ?? 0,
  };
  const notify: EventNotifyConfig = {
    EnableEventNotify: body.EventNotifyConfig?.EnableEventNotify ?? false,
    StartTimeout: body.EventNotifyConfig?.StartTimeout ?? 0,
  };
  return {
    AppId: body.AppId,
    RoomId: body.RoomId,
    TaskId: body.TaskId,
    UserId: body.UserId,
    SourceURL: body.SourceURL,
    BusinessId: body.BusinessId ?? '',
    MaxRunningTime: orDefault(body.MaxRunningTime, DEFAULT_MAX_RUNNING_TIME),
    VideoSolutions: solutions,
    MonitorConfig: monitor,
    EventNotifyConfig: notify,
  };
}

export function parseTaskKey(input: unknown): TaskKey {
  return parseWith(taskKey, input);
}

/** GetWebCastTask: TaskId is optional in the vendor's docs; without it the room's latest task is meant. */
export function parseTaskQuery(input: Input): { AppId: string; RoomId: string; TaskId?: string } {
  const q = parseWith(roomQuery, input);
  return q.TaskId ? { AppId: q.AppId, RoomId: q.RoomId, TaskId: q.TaskId } : { AppId: q.AppId, RoomId: q.RoomId };
}

export interface TaskListQuery {
  /** Required by the API; the console of a key for every app may leave it out. */
  AppId?: string;
  RoomId?: string;
  Status?: TaskStatus;
  /** 1..100, default 50. */
  Limit: number;
}

function toFilter(q: { AppId?: string | null | undefined; RoomId?: string | null | undefined; Status?: number | undefined; Limit?: number | undefined }): TaskListQuery {
  return {
    ...(q.AppId ? { AppId: q.AppId } : {}),
    ...(q.RoomId ? { RoomId: q.RoomId } : {}),
    ...(q.Status !== undefined ? { Status: q.Status as TaskStatus } : {}),
    Limit: q.Limit ?? 50,
  };
}

/** ListWebcastTasks: an app's tasks of the last 72 hours, newest first, optionally of one room or status. */
export function parseTaskListQuery(input: Input): TaskListQuery & { AppId: string } {
  const q = parseWith(taskListQuery, input);
  return { ...toFilter(q), AppId: q.AppId };
}

/** The same filter with AppId optional: for a console whose key may see every app. */
export function parseTaskFilter(input: Input): TaskListQuery {
  return toFilter(parseWith(taskListQuery.extend({ AppId: optional(id) }), input));
}
