import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../api/errors.js';
import type { MediaRelay } from '../rooms/relay/media-relay.js';
import { RoomError, type RoomRef, type Subscription } from '../rooms/room-backend.js';
import { bridgeOffers, narrowOffer, SdpBridgeError } from '../rooms/sdp-bridge.js';
import { perAddressPerMinute } from './address-limit.js';
import { TooManyViewersError, type ViewerRegistry } from './viewers.js';

/**
 * WHEP (RFC 9725's playback twin): any player POSTs its SDP offer for one publisher of a room
 * and gets an answer, a resource to DELETE, trickle ICE by PATCH, and a layer switch. The same
 * signed room token as the viewer links opens it (or the console's session, from its pages).
 *
 * Janus offers to every subscriber, so the player's offer and Janus's are joined by
 * rooms/sdp-bridge: media flows between the player and Janus, never through this process.
 * A player that numbers the codecs otherwise is carried by rooms/relay, a process of its own.
 */
export interface WhepDeps {
  viewers: () => ViewerRegistry<Session>;
  /** Carries players the SDP bridge cannot serve; absent, they are refused saying why. */
  relay: MediaRelay | undefined;
  /** Throws unless the request may watch that room (a viewer link's token, or a console session for its app). */
  mayWatch: (req: FastifyRequest, room: RoomRef) => void;
}

const LAYER_EXTENSION = 'urn:ietf:params:whep:ext:core:layer';
const SDP_LIMIT = 64 * 1024;
/** A player POSTs once a session; a page reloaded now and then stays far below. */
const OFFERS_PER_MINUTE = 30;
/** Each is a Janus request; a player trickles a few candidates per session and switches layers now and then. */
const TRICKLES_PER_MINUTE = 300;
const LAYER_SWITCHES_PER_MINUTE = 60;

/** Players run on other origins: they may call us, with their token, and read what they need of the answer. */
const CORS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'POST, PATCH, DELETE, OPTIONS',
  'access-control-allow-headers': 'authorization, content-type, if-match',
  'access-control-expose-headers': 'location, link, etag, accept-patch',
  'access-control-max-age': '600',
};

type RoomParams = { Params: { app: string; room: string; user: string }; Querystring: { layer?: string } };
type SessionParams = { Params: { app: string; room: string; user: string; id: string } };

/** What a WHEP session keeps with its viewer in the registry. */
export interface Session {
  answer: string;
  /** The player's mid → Janus's, for trickled candidates; undefined when relayed (the relay keeps the player's). */
  mids: Map<string, string> | undefined;
  relayed: boolean;
  etag: string;
}

function textBody(req: FastifyRequest, type: string): string {
  const given = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (given !== type) throw new ApiError('InvalidParameter', `the body must be ${type}, not ${given || 'nothing'}`);
  const body = req.body;
  if (!Buffer.isBuffer(body) || body.length === 0) throw new ApiError('InvalidParameter.BodyIsEmpty', `the body is empty: send the ${type}`);
  if (body.length > SDP_LIMIT) throw new ApiError('InvalidParameter', `the body is larger than ${SDP_LIMIT / 1024} KiB`);
  return body.toString('utf8');
}

function layerOf(value: unknown): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  if (n !== 0 && n !== 1) throw new ApiError('InvalidParameter', 'layer must be 0 (the smaller simulcast layer) or 1 (the larger)');
  return n;
}

/** Candidates of a trickle-ice-sdpfrag (RFC 8840), by the player's mid; whether it ends with end-of-candidates. */
function parseFragment(fragment: string): { candidates: { candidate: string; mid: string }[]; complete: boolean } {
  let mid: string | undefined;
  let complete = false;
  const candidates: { candidate: string; mid: string }[] = [];
  for (const raw of fragment.split(/\r?\n/)) {
    const line = raw.trim();
    if (line.startsWith('a=mid:')) mid = line.slice('a=mid:'.length);
    else if (line.startsWith('a=candidate:')) {
      if (mid === undefined) throw new ApiError('InvalidParameter', 'a candidate comes before any a=mid line');
      candidates.push({ candidate: line.slice('a='.length), mid });
    } else if (line === 'a=end-of-candidates') complete = true;
  }
  return { candidates, complete };
}

/**
 * Joins the player to the subscription: directly where the player numbers the codecs as Janus
 * writes them (the SDP bridge: Janus sends to the player), else through the media relay.
 */
async function attach(subscription: Subscription, offer: string, relay: MediaRelay | undefined): Promise<{ subscription: Subscription; result: Session }> {
  const etag = `"${randomUUID()}"`;
  try {
    const bridged = bridgeOffers(offer, subscription.offerSdp);
    await subscription.start(bridged.forBackend);
    return { subscription, result: { answer: bridged.forClient, mids: bridged.mids, relayed: false, etag } };
  } catch (err) {
    if (!(err instanceof SdpBridgeError && err.renumbered && relay)) throw err;
    const relayed = await relay.attach(subscription, narrowOffer(offer, subscription.offerSdp));
    // The relay answers under the player's own mids.
    return { subscription: relayed.subscription, result: { answer: relayed.answer, mids: undefined, relayed: true, etag } };
  }
}

export async function whepRoutes(app: FastifyInstance, deps: WhepDeps): Promise<void> {
  const roomOf = (p: { app: string; room: string }): RoomRef => ({ appId: p.app, roomId: p.room });

  app.addHook('onSend', async (_req, reply) => {
    for (const [k, v] of Object.entries(CORS)) void reply.header(k, v);
  });
  const preflight = async (_req: FastifyRequest, reply: FastifyReply) => reply.code(204).send();
  app.options('/whep/:app/:room/:user', preflight);
  app.options('/whep/:app/:room/:user/:id', preflight);
  app.options('/whep/:app/:room/:user/:id/layer', preflight);

  // Per address, before the token is checked: a link's holder cannot churn Janus subscriptions
  // or send Janus requests as fast as it likes on its sessions, and nobody can guess tokens fast.
  const perMinute = (max: number, what: string) => ({ rateLimit: perAddressPerMinute(max, `more than ${max} WHEP ${what} a minute from this address`) });
  app.post<RoomParams>('/whep/:app/:room/:user', { config: perMinute(OFFERS_PER_MINUTE, 'offers') }, async (req, reply) => {
    const room = roomOf(req.params);
    deps.mayWatch(req, room);
    const offer = textBody(req, 'application/sdp');
    const layer = layerOf(req.query.layer);
    const viewers = deps.viewers();
    let opened: { id: string; result: Session };
    try {
      opened = await viewers.open(room, req.params.user, layer, req.ip, (subscription) => attach(subscription, offer, deps.relay));
    } catch (err) {
      if (err instanceof TooManyViewersError) throw new ApiError('FlowLimitExceeded', err.message);
      if (err instanceof SdpBridgeError) throw new ApiError('InvalidParameter', err.message);
      const what = `cannot watch ${req.params.user} in ${room.appId}/${room.roomId}: ${(err as Error).message}`;
      // The room's own refusal (nobody publishes as that UserId; a WHIP node only publishes) is the player's to hear as such.
      if (err instanceof RoomError) throw new ApiError('ResourceNotFound', what);
      req.log.warn({ err, app: room.appId, room: room.roomId, user: req.params.user }, 'a WHEP player could not be served');
      throw new ApiError('ServiceUnavailable', `${what}; try again`);
    }
    const { answer, relayed, etag } = opened.result;
    req.log.info({ viewer: opened.id, app: room.appId, room: room.roomId, user: req.params.user, relayed }, 'whep session opened');
    const resource = `/whep/${encodeURIComponent(room.appId)}/${encodeURIComponent(room.roomId)}/${encodeURIComponent(req.params.user)}/${opened.id}`;
    return reply
      .code(201)
      .type('application/sdp')
      .header('location', resource)
      .header('etag', etag)
      .header('accept-patch', 'application/trickle-ice-sdpfrag')
      .header('link', `<${resource}/layer>; rel="${LAYER_EXTENSION}"`)
      .send(answer);
  });

  const sessionOf = (req: FastifyRequest<SessionParams>) => {
    const room = roomOf(req.params);
    deps.mayWatch(req, room);
    const viewer = deps.viewers().get(req.params.id, room);
    if (!viewer) throw new ApiError('ResourceNotFound', 'this WHEP session has ended; POST a new offer');
    return { subscription: viewer.subscription, session: viewer.result };
  };

  app.patch<SessionParams>('/whep/:app/:room/:user/:id', { config: perMinute(TRICKLES_PER_MINUTE, 'trickle requests') }, async (req, reply) => {
    const { subscription, session } = sessionOf(req);
    const ifMatch = req.headers['if-match'];
    // An ICE restart (If-Match: *) would need a new offer from Janus, bridged again: not offered.
    if (ifMatch === '*') return reply.code(405).header('allow', 'POST, DELETE').send();
    if (ifMatch !== undefined && ifMatch !== session.etag) return reply.code(412).send();
    const fragment = parseFragment(textBody(req, 'application/trickle-ice-sdpfrag'));
    const candidates = fragment.candidates.flatMap((c) => {
      const mid = session.mids ? session.mids.get(c.mid) : c.mid;
      return mid === undefined ? [] : [{ candidate: c.candidate, mid }];
    });
    await subscription.trickle(candidates, fragment.complete);
    return reply.code(204).send();
  });

  app.post<SessionParams>('/whep/:app/:room/:user/:id/layer', { config: perMinute(LAYER_SWITCHES_PER_MINUTE, 'layer switches') }, async (req, reply) => {
    const { subscription } = sessionOf(req);
    const body = Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '';
    let asked: unknown;
    try {
      asked = JSON.parse(body || 'null');
    } catch {
      throw new ApiError('InvalidParameter.Unmarshal', 'the layer body is not JSON: send {"encodingId":"0"} or {"encodingId":"1"}');
    }
    const choice = typeof asked === 'object' && asked !== null ? (asked as { encodingId?: unknown }).encodingId : asked;
    const layer = layerOf(choice);
    if (layer === undefined) throw new ApiError('MissingParameter', 'say which layer: {"encodingId":"0"} (smaller) or {"encodingId":"1"} (larger)');
    await subscription.setLayer(layer);
    return reply.code(204).send();
  });

  app.delete<SessionParams>('/whep/:app/:room/:user/:id', async (req, reply) => {
    sessionOf(req);
    await deps.viewers().close(req.params.id);
    return reply.code(200).send();
  });
}
