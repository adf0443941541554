import { createHash, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import cookie from '@fastify/cookie';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { mayUseApp, mayUseEveryApp, requireEveryApp, type AccessKeyPair, type KeyRing } from '../api/credentials.js';
import { jsonBody } from '../api/body.js';
import { successBody } from '../api/envelope.js';
import { ApiError } from '../api/errors.js';
import { toApiEvent, toApiNode, toListedTask } from '../api/views.js';
import type { MediaRelay } from '../rooms/relay/media-relay.js';
import type { RoomRef } from '../rooms/room-backend.js';
import type { NodeDirectory } from '../api/server.js';
import type { Clock } from '../tasks/ports.js';
import type { TaskService } from '../tasks/service.js';
import type { TaskKey } from '../tasks/types.js';
import { parseStartWebcast, parseTaskFilter } from '../tasks/validation.js';
import type { TokenSigner } from './tokens.js';
import type { ViewerRegistry } from './viewers.js';
import { perAddressPerMinute } from './address-limit.js';
import { whepRoutes, type Session as WhepSession } from './whep.js';

export interface ConsoleDeps {
  tasks: TaskService;
  keys: KeyRing;
  signer: TokenSigner;
  /** Absent on a node without a media worker: no viewer, no thumbnail. */
  viewers?: ViewerRegistry<WhepSession> | undefined;
  /** Carries WHEP players the SDP bridge cannot serve (rooms/relay). */
  relay?: MediaRelay | undefined;
  thumbnail?: ((key: TaskKey, width: number) => Promise<Buffer | undefined>) | undefined;
  /** The built front end (index.html and assets/). */
  staticDir: string;
  /** The cluster's nodes and which runs a task (a single node: itself). */
  nodes?: NodeDirectory | undefined;
  clock?: Clock;
  sessionTtlMs?: number;
}

export const SESSION_COOKIE = 'webcast_console';
/** Browsers send it only from our own scripts: a cross-site form cannot, so no CSRF. */
export const CONSOLE_HEADER = 'x-webcast-console';
/** Our own scripts, styles and calls only; no framing (clickjacking), no inline script. */
const FAVICON = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="#111827"/><path d="M12 9l12 7-12 7z" fill="#60a5fa"/></svg>';
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
const DEFAULT_SESSION_TTL_MS = 8 * 3600_000;
const MAX_SHARE_TTL_S = 7 * 86400;

const signIn = z.object({ AccessKey: z.string().min(1).max(256), SecretKey: z.string().min(1).max(1024) });
const share = z.object({ TtlSeconds: z.number().int().min(60).max(MAX_SHARE_TTL_S).default(3600) });

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body ?? {});
  if (result.success) return result.data;
  throw new ApiError('InvalidParameter', result.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
}

/** Constant time whatever the lengths: both sides are hashed first. */
function sameSecret(a: string, b: string): boolean {
  const h = (s: string): Buffer => createHash('sha256').update(s).digest();
  return timingSafeEqual(h(a), h(b));
}

/** Whoever may look at a room: a signed-in key for its app, or a viewer link for that very room. */
type RoomAccess = { kind: 'session'; caller: AccessKeyPair } | { kind: 'link' };

/**
 * The web console: its pages (a bundled front end) and the JSON API they call, under
 * /console/api. Sessions are signed cookies naming the access key that signed in; the secret
 * key is only ever checked, never stored. Shareable viewer links carry a signed token that
 * opens one room's viewer and nothing else.
 */
export async function consoleRoutes(app: FastifyInstance, deps: ConsoleDeps): Promise<void> {
  const clock = deps.clock ?? Date.now;
  const ttl = deps.sessionTtlMs ?? DEFAULT_SESSION_TTL_MS;
  const indexFile = path.join(deps.staticDir, 'index.html');
  const built = existsSync(indexFile);
  const indexHtml = built ? readFileSync(indexFile, 'utf8') : '<!doctype html><title>webcast</title><p>The console is not built: run <code>npm run build</code>.</p>';

  await app.register(cookie);
  if (built) await app.register(fastifyStatic, { root: path.join(deps.staticDir, 'assets'), prefix: '/console/assets/', index: false, immutable: true, maxAge: '1y' });

  const page = async (_req: FastifyRequest, reply: FastifyReply) =>
    reply
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .header('content-security-policy', CSP)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .send(indexHtml);
  for (const url of ['/console', '/console/', '/view']) app.get(url, page);
  // Browsers ask for it on every page; an SVG (a play mark on the console's ink) answers at the old name too.
  app.get('/favicon.ico', async (_req, reply) => reply.type('image/svg+xml').header('cache-control', 'public, max-age=86400').send(FAVICON));

  const ok = (req: FastifyRequest, reply: FastifyReply, result: unknown) => reply.code(200).send(successBody(req.call.meta, result));

  const session = (req: FastifyRequest): { pair: AccessKeyPair; exp: number } => {
    const claims = deps.signer.verify('session', req.cookies[SESSION_COOKIE], clock());
    const pair = claims && deps.keys.find(claims.k);
    if (!pair) throw new ApiError('MissingAuthenticationToken', 'sign in first: there is no console session, or it expired');
    return { pair, exp: claims.exp };
  };
  const caller = (req: FastifyRequest): AccessKeyPair => session(req).pair;
  const mayUse = (pair: AccessKeyPair, appId: string): void => {
    if (!mayUseApp(pair, appId)) throw new ApiError('AccessDenied', `the access key ${pair.accessKey} may not act on AppId ${appId}`);
  };
  const roomAccess = (req: FastifyRequest, room: RoomRef): RoomAccess => {
    const auth = req.headers.authorization;
    if (auth?.startsWith('Bearer ')) {
      const claims = deps.signer.verify('viewer', auth.slice('Bearer '.length), clock());
      if (!claims) throw new ApiError('MissingAuthenticationToken', 'the viewer link is not valid or has expired; ask for a new one');
      if (claims.a !== room.appId || claims.r !== room.roomId) throw new ApiError('AccessDenied', 'this viewer link is for another room');
      return { kind: 'link' };
    }
    const pair = caller(req);
    mayUse(pair, room.appId);
    return { kind: 'session', caller: pair };
  };
  const viewers = (): ViewerRegistry<WhepSession> => {
    if (!deps.viewers) throw new ApiError('ResourceNotFound', 'this node runs no media worker: rooms cannot be viewed here');
    return deps.viewers;
  };

  // WHEP players: other origins, their own content types, the same room access.
  await app.register(whepRoutes, { viewers, relay: deps.relay, mayWatch: (req: FastifyRequest, room: RoomRef) => void roomAccess(req, room) });

  // Mutations must come from our own scripts (custom header) and as JSON.
  app.addHook('preHandler', async (req) => {
    if (!req.url.startsWith('/console/api/') || req.method === 'GET') return;
    if (req.headers[CONSOLE_HEADER] !== '1') throw new ApiError('AccessDenied', `console requests must carry the ${CONSOLE_HEADER} header`);
  });

  const signInLimit = perAddressPerMinute(10, 'too many sign-in attempts from this address');
  app.post('/console/api/session', { config: { rateLimit: signInLimit } }, async (req, reply) => {
    const { AccessKey, SecretKey } = parse(signIn, jsonBody(req, {}));
    const pair = deps.keys.find(AccessKey);
    // One answer for an unknown key and a wrong secret: nobody learns which keys exist.
    if (!pair || !sameSecret(pair.secretKey, SecretKey)) {
      req.log.warn({ accessKey: AccessKey.slice(0, 64) }, 'console sign-in refused');
      throw new ApiError('InvalidAccessKey', 'the access key or the secret key is wrong');
    }
    const exp = clock() + ttl;
    reply.setCookie(SESSION_COOKIE, deps.signer.sign('session', { k: pair.accessKey, exp }), {
      path: '/',
      httpOnly: true,
      sameSite: 'strict',
      secure: req.protocol === 'https',
      maxAge: Math.floor(ttl / 1000),
    });
    req.log.info({ accessKey: pair.accessKey }, 'console sign-in');
    return ok(req, reply, { AccessKey: pair.accessKey, AppIds: pair.appIds, ExpiresAt: exp });
  });
  app.get('/console/api/session', async (req, reply) => {
    const { pair, exp } = session(req);
    return ok(req, reply, { AccessKey: pair.accessKey, AppIds: pair.appIds, ExpiresAt: exp, Media: deps.viewers !== undefined });
  });
  app.delete('/console/api/session', async (req, reply) => {
    reply.clearCookie(SESSION_COOKIE, { path: '/' });
    return ok(req, reply, 'ok');
  });

  app.get('/console/api/tasks', async (req, reply) => {
    const pair = caller(req);
    const query = Object.fromEntries(Object.entries(req.query as Record<string, unknown>).filter(([, v]) => typeof v === 'string' && v !== ''));
    // A key for every app may look at all of them at once; any other names its app.
    const q = parseTaskFilter(query);
    if (q.AppId === undefined && !mayUseEveryApp(pair)) {
      throw new ApiError('MissingParameter', `AppId is required: this key may act on ${pair.appIds.join(', ')} only`);
    }
    if (q.AppId !== undefined) mayUse(pair, q.AppId);
    const tasks = await deps.tasks.list(q);
    return ok(req, reply, { WebCastTasks: tasks.map(toListedTask) });
  });

  app.post('/console/api/tasks', async (req, reply) => {
    const pair = caller(req);
    const spec = parseStartWebcast(jsonBody(req, {}));
    mayUse(pair, spec.AppId);
    const outcome = await deps.tasks.start(spec);
    req.log.info({ app: spec.AppId, room: spec.RoomId, task: spec.TaskId, accessKey: pair.accessKey, started: outcome.started }, 'task started from the console');
    return ok(req, reply, { Started: outcome.started, WebCastTask: toListedTask(outcome.task) });
  });

  type KeyParams = { Params: { app: string; room: string; task: string } };
  const keyOf = (p: KeyParams['Params']): TaskKey => ({ AppId: p.app, RoomId: p.room, TaskId: p.task });

  app.get<KeyParams>('/console/api/tasks/:app/:room/:task', async (req, reply) => {
    mayUse(caller(req), req.params.app);
    const { task, events, placeInLine } = await deps.tasks.events(keyOf(req.params));
    const node = await deps.nodes?.holderOf(keyOf(req.params));
    return ok(req, reply, { WebCastTask: toListedTask(task), Events: events.map(toApiEvent), ...(placeInLine ? { PlaceInLine: placeInLine } : {}), ...(node ? { Node: node } : {}) });
  });

  app.get('/console/api/nodes', async (req, reply) => {
    requireEveryApp(caller(req), 'see the nodes');
    return ok(req, reply, { Nodes: ((await deps.nodes?.list()) ?? []).map(toApiNode) });
  });

  app.post<KeyParams>('/console/api/tasks/:app/:room/:task/stop', async (req, reply) => {
    const pair = caller(req);
    mayUse(pair, req.params.app);
    const task = await deps.tasks.stop(keyOf(req.params));
    req.log.info({ app: task.AppId, room: task.RoomId, task: task.TaskId, accessKey: pair.accessKey }, 'task stopped from the console');
    return ok(req, reply, { WebCastTask: toListedTask(task) });
  });

  app.get<KeyParams & { Querystring: { width?: string } }>('/console/api/tasks/:app/:room/:task/thumbnail', async (req, reply) => {
    mayUse(caller(req), req.params.app);
    const width = Math.min(1280, Math.max(64, Number(req.query.width) || 480));
    const jpeg = await deps.thumbnail?.(keyOf(req.params), width).catch(() => undefined);
    if (!jpeg) throw new ApiError('ResourceNotFound', 'the task is not on air on this node: there is no picture to show');
    return reply.type('image/jpeg').header('cache-control', 'no-store').send(jpeg);
  });

  type RoomParams = { Params: { app: string; room: string } };
  const roomOf = (p: RoomParams['Params']): RoomRef => ({ appId: p.app, roomId: p.room });

  app.get<RoomParams>('/console/api/rooms/:app/:room/publishers', async (req, reply) => {
    roomAccess(req, roomOf(req.params));
    const publishers = await viewers().publishers(roomOf(req.params));
    return ok(req, reply, { Publishers: publishers.map((p) => ({ UserId: p.userId })) });
  });

  app.post<RoomParams>('/console/api/rooms/:app/:room/share', async (req, reply) => {
    const access = roomAccess(req, roomOf(req.params));
    if (access.kind !== 'session') throw new ApiError('AccessDenied', 'a viewer link cannot make other links');
    const { TtlSeconds } = parse(share, jsonBody(req, {}));
    const exp = clock() + TtlSeconds * 1000;
    const token = deps.signer.sign('viewer', { a: req.params.app, r: req.params.room, exp });
    req.log.info({ app: req.params.app, room: req.params.room, accessKey: access.caller.accessKey, ttl: TtlSeconds }, 'viewer link made');
    return ok(req, reply, { Path: `/view#${token}`, ExpiresAt: exp });
  });
}
