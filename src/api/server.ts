import { STATUS_CODES, maxHeaderSize } from 'node:http';
import type { Duplex } from 'node:stream';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import type { Logger } from 'pino';
import type { RateLimits } from '../config.js';
import type { Clock } from '../tasks/ports.js';
import { toApiEvent, toApiNode, toListedTask, toWebCastTask } from './views.js';
import { jsonBody } from './body.js';
import { ALREADY_STARTED } from './wire.js';
import type { TaskService } from '../tasks/service.js';
import { parseStartWebcast, parseTaskKey, parseTaskListQuery, parseTaskQuery } from '../tasks/validation.js';
import { redactUrl } from '../log.js';
import { resolveAction, type ActionDef } from './actions.js';
import { verifyRequest } from './auth.js';
import { mayUseApp, requireEveryApp, type AccessKeyPair, type KeyRing } from './credentials.js';
import { errorBody, newRequestId, successBody, type ResponseMetadata } from './envelope.js';
import { ApiError, toApiError } from './errors.js';
import type { Metrics } from '../metrics.js';
import { sharedRateLimitStore, type SharedCounter } from './shared-rate-limit.js';
import type { NodeInfo } from '../tasks/ports.js';
import type { TaskKey } from '../tasks/types.js';


export interface ApiDeps {
  tasks: TaskService;
  keys: KeyRing;
  log: Logger;
  rateLimits: RateLimits;
  region: string;
  maxClockSkewMs: number;
  clock?: Clock;
  metrics: Metrics;
  /** Where a browser that opens `/` is sent (the console); API calls always carry an Action. */
  homePath?: string;
  /** The nodes of the cluster (this one alone without a cluster), and which node holds a task. */
  nodes?: NodeDirectory;
  /** Counts shared with the other nodes of a cluster; undefined = this node's memory. */
  sharedCounter?: SharedCounter;
  /** What /readyz reports: each dependency's name and whether it answers. */
  readiness?: () => Promise<Record<string, boolean>>;
}

export { ALREADY_STARTED };

export interface NodeDirectory {
  list(): Promise<NodeInfo[]>;
  /** The node that holds the task; undefined when none does (or there is no cluster). */
  holderOf(key: TaskKey): Promise<string | undefined>;
  /** Tells a worker of the cluster (this node by default) to drain; returns its id. Throws an ApiError when it cannot. */
  drain(nodeId: string | undefined): Promise<string>;
}
const BODY_LIMIT = 64 * 1024;

interface CallState {
  meta: Omit<ResponseMetadata, 'Error'>;
  action?: ActionDef;
  caller?: AccessKeyPair;
  errorCode?: string;
  startedAt: number;
}

declare module 'fastify' {
  interface FastifyRequest {
    call: CallState;
  }
}

type Query = Record<string, string | string[] | undefined>;

function firstValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** The query exactly as sent, in order and with repeats, as the signature covers it. */
function queryPairs(rawUrl: string): [string, string][] {
  const q = rawUrl.indexOf('?');
  return q < 0 ? [] : [...new URLSearchParams(rawUrl.slice(q + 1)).entries()];
}

const queryOf = (req: FastifyRequest): Record<string, string | undefined> =>
  Object.fromEntries(Object.entries(req.query as Query).map(([k, v]) => [k, firstValue(v)]));



/** A Start refused for a full node may try again after about this long: tasks end in minutes. */
export const CAPACITY_RETRY_AFTER_SEC = 30;

/**
 * What Node's HTTP parser refuses before any route runs (a request line and headers over
 * its limit, bytes that are not HTTP, a request that took too long) is answered in the API's
 * envelope too, on the raw socket, as Fastify's default handler would answer it bare.
 */
function clientErrorHandler(region: string, clock: Clock) {
  return (err: NodeJS.ErrnoException, socket: Duplex): void => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const [status, message] =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, `the request line and headers are larger than ${maxHeaderSize / 1024} KiB; no action takes a query that long`]
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [408, 'the request did not arrive in time']
          : [400, 'the request is not valid HTTP/1.1'];
    const meta = { RequestId: newRequestId(clock()), Action: '', Version: '', Service: 'rtc' as const, Region: region };
    const body = JSON.stringify(errorBody(meta, new ApiError('InvalidParameter', message)));
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  };
}

/** The OpenAPI gateway: one route, `/`, dispatched on the Action in the query string. */
export async function buildApiServer(deps: ApiDeps): Promise<FastifyInstance> {
  const clock = deps.clock ?? Date.now;
  const app = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger,
    // Our own access log line below leaves out query strings (signatures) and bodies (SourceURL).
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT,
    // A TLS proxy on this machine (README: Running it as a system service) says the request came
    // over HTTPS in X-Forwarded-Proto; the console then marks its cookie Secure. Nobody else is believed.
    trustProxy: 'loopback',
    clientErrorHandler: clientErrorHandler(deps.region, clock),
  });

  // Signatures cover the raw bytes, so bodies stay raw until the action parses them.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.decorateRequest('call');
  app.addHook('onRequest', async (req, reply) => {
    const query = req.query as Query;
    req.call = {
      startedAt: performance.now(),
      meta: {
        RequestId: newRequestId(clock()),
        Action: firstValue(query.Action) ?? '',
        Version: firstValue(query.Version) ?? '',
        Service: 'rtc',
        Region: deps.region,
      },
    };
    if (deps.homePath && req.method === 'GET' && req.url.split('?')[0] === '/' && query.Action === undefined && query['X-Credential'] === undefined && !req.headers.authorization) {
      return reply.redirect(deps.homePath);
    }
  });

  app.setErrorHandler(async (error, req, reply) => {
    let apiError: ApiError;
    if (error instanceof ApiError) apiError = error;
    else if ((error as { code?: string }).code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      apiError = new ApiError('InvalidParameter', `the request body is larger than ${BODY_LIMIT / 1024} KiB`);
    } else {
      apiError = toApiError(error);
      if (apiError.code === 'InternalError') req.log.error({ err: error, requestId: req.call.meta.RequestId }, 'request failed');
    }
    req.call.errorCode = apiError.code;
    if (apiError.code === 'FlowLimitExceeded.TaskNumberOverLimit') void reply.header('Retry-After', String(CAPACITY_RETRY_AFTER_SEC));
    return reply.code(apiError.statusCode).send(errorBody(req.call.meta, apiError));
  });

  app.setNotFoundHandler(async (req) => {
    throw new ApiError('InvalidActionOrVersion', `no API at ${req.method} ${req.url.split('?')[0] ?? ''}; call / with Action and Version in the query`);
  });

  app.addHook('onResponse', async (req, reply) => {
    const path = req.url.split('?')[0] ?? '';
    if (path !== '/') {
      // The console, health and metrics: the path only (a query may hold a token). Only what
      // changes something is worth a line at info; the console's polling is not.
      const level = path.startsWith('/console/api/') && req.method !== 'GET' ? 'info' : 'debug';
      req.log[level]({ requestId: req.call.meta.RequestId, method: req.method, path, status: reply.statusCode, code: req.call.errorCode, ms: Math.round(performance.now() - req.call.startedAt) }, 'http request');
      return;
    }
    if (req.call.action || req.call.meta.Action) {
      deps.metrics.apiRequests.inc({ action: req.call.action?.name ?? 'unknown', code: req.call.errorCode ?? 'ok' });
    }
    // Reads (Get, the lists; consoles and `watch` poll them every second or two) at debug;
    // what changes a task, and every refusal but a read's, at info.
    const reads = req.call.action?.method === 'GET' && (req.call.errorCode === undefined || req.call.errorCode.startsWith('InvalidParameter'));
    req.log[reads ? 'debug' : 'info'](
      {
        requestId: req.call.meta.RequestId,
        action: req.call.action?.name ?? req.call.meta.Action,
        accessKey: req.call.caller?.accessKey,
        status: reply.statusCode,
        code: req.call.errorCode,
        ms: Math.round(performance.now() - req.call.startedAt),
      },
      'api request',
    );
  });

  await app.register(rateLimit, {
    global: false,
    ...(deps.sharedCounter ? { store: sharedRateLimitStore(deps.sharedCounter, (err) => deps.log.warn({ err }, 'the shared rate-limit counter failed; the request was let through')) } : {}),
  });
  const limitPerAccount = app.rateLimit({
    hook: 'preHandler',
    timeWindow: 1000,
    keyGenerator: (req) => `${req.call.caller?.accessKey ?? ''}|${req.call.action?.name ?? ''}`,
    max: (req) => (req.call.action ? deps.rateLimits[req.call.action.name] : 1),
    errorResponseBuilder: (req, ctx) =>
      new ApiError('FlowLimitExceeded', `more than ${ctx.max} ${req.call.action?.name ?? ''} requests per second for this access key; retry in ${ctx.after}`),
  });

  const authenticate = async (req: FastifyRequest): Promise<void> => {
    const query = req.query as Query;
    req.call.action = resolveAction(firstValue(query.Action), firstValue(query.Version));
    req.call.caller = verifyRequest(
      {
        method: req.method,
        path: req.url.split('?')[0] || '/',
        query: queryPairs(req.url),
        headers: req.headers,
        body: req.body instanceof Buffer ? req.body : Buffer.alloc(0),
      },
      { keys: deps.keys, now: clock(), maxClockSkewMs: deps.maxClockSkewMs, region: deps.region },
    );
  };

  const handle = async (req: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    const { action, caller } = req.call;
    if (!action || !caller) throw new ApiError('InternalError', 'request reached its handler unauthenticated');
    if (req.method !== action.method) {
      throw new ApiError('InvalidParameter', `${action.name} must be sent with ${action.method}${action.method === 'POST' ? ' and a JSON body' : ' and its parameters in the query'}`);
    }
    const allowed = (appId: string): void => {
      if (!mayUseApp(caller, appId)) throw new ApiError('AccessDenied', `the access key ${caller.accessKey} may not act on AppId ${appId}`);
    };
    let result: unknown;
    switch (action.name) {
      case 'StartWebcast': {
        const spec = parseStartWebcast(jsonBody(req));
        allowed(spec.AppId);
        const outcome = await deps.tasks.start(spec);
        if (outcome.started) {
          req.log.info({ app: spec.AppId, room: spec.RoomId, task: spec.TaskId, user: spec.UserId, url: redactUrl(spec.SourceURL) }, 'task accepted');
        }
        result = outcome.started ? 'ok' : ALREADY_STARTED;
        break;
      }
      case 'StopWebcast': {
        const key = parseTaskKey(jsonBody(req));
        allowed(key.AppId);
        await deps.tasks.stop(key);
        req.log.info({ app: key.AppId, room: key.RoomId, task: key.TaskId }, 'task stopped by API');
        result = 'ok';
        break;
      }
      case 'GetWebCastTask': {
        const q = parseTaskQuery(queryOf(req));
        allowed(q.AppId);
        result = { WebCastTask: toWebCastTask(await deps.tasks.get(q)) };
        break;
      }
      case 'ListWebcastTasks': {
        const q = parseTaskListQuery(queryOf(req));
        allowed(q.AppId);
        const tasks = await deps.tasks.list(q);
        result = { WebCastTasks: tasks.map(toListedTask) };
        break;
      }
      case 'ListWebcastTaskEvents': {
        const key = parseTaskKey(queryOf(req));
        allowed(key.AppId);
        const { task, events, placeInLine } = await deps.tasks.events(key);
        // PlaceInLine: while every slot is taken, where the task stands (1 = next).
        const node = await deps.nodes?.holderOf(key);
        result = { WebCastTask: toWebCastTask(task), Events: events.map(toApiEvent), ...(placeInLine ? { PlaceInLine: placeInLine } : {}), ...(node ? { Node: node } : {}) };
        break;
      }
      case 'ListWebcastNodes': {
        requireEveryApp(caller, 'list the nodes');
        result = { Nodes: ((await deps.nodes?.list()) ?? []).map(toApiNode) };
        break;
      }
      case 'DrainWebcastNode': {
        requireEveryApp(caller, 'drain a node');
        const body = jsonBody(req, {}) as { NodeId?: unknown };
        if (body.NodeId !== undefined && (typeof body.NodeId !== 'string' || body.NodeId.length > 64)) throw new ApiError('InvalidParameter', 'NodeId must be a node id as ListWebcastNodes shows it');
        if (!deps.nodes) throw new ApiError('InvalidParameter', 'this node has no node directory');
        const drained = await deps.nodes.drain(body.NodeId || undefined);
        req.log.info({ node: drained, accessKey: caller.accessKey }, 'node drain requested');
        result = { NodeId: drained };
        break;
      }
    }
    return reply.code(200).send(successBody(req.call.meta, result));
  };

  // Operational endpoints, outside the signed API: bind WEBCAST_HOST to loopback or a private
  // interface if they must not be public.
  app.get('/healthz', async () => ({ ok: true }));
  app.get('/readyz', async (_req, reply) => {
    const checks = (await deps.readiness?.()) ?? {};
    const ready = Object.values(checks).every(Boolean);
    return reply.code(ready ? 200 : 503).send({ ready, checks });
  });
  app.get('/metrics', async (_req, reply) => reply.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics()));

  app.route({ method: ['GET', 'POST'], url: '/', preValidation: authenticate, preHandler: limitPerAccount, handler: handle });
  return app;
}
