import type { Logger } from 'pino';
import { RoomError, printableLine, type Publication, type PublicationLoss, type PublishRequest, type RoomBackend, type RoomPublisher, type RoomRef, type Subscription } from '../room-backend.js';
import { fillWhipTemplate, type WhipEndpoints } from './whip-endpoints.js';

/** An answer is a few kilobytes; an endpoint that sends more is broken or hostile. */
const MAX_ANSWER_BYTES = 256 * 1024;
const REQUEST_TIMEOUT_MS = 10_000;

const roomKey = (room: RoomRef): string => `${room.appId}/${room.roomId}`;

/** What of an endpoint URL may be logged: no query (it may hold a token), no user info. */
const shown = (url: URL): string => `${url.origin}${url.pathname}`;

async function readCapped(response: Response, from: URL): Promise<string> {
  const reader = response.body?.getReader();
  if (!reader) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_ANSWER_BYTES) {
      await reader.cancel().catch(() => undefined);
      throw new RoomError(`the WHIP endpoint ${shown(from)} sent more than ${MAX_ANSWER_BYTES / 1024} KB`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Publishes into any SFU that takes WHIP (RFC 9725): one session per publisher, the offer
 * POSTed with the AppId's bearer token, the answer applied, the session's resource DELETEd at
 * the end. WHIP has no way for the server to tell a publisher it was dropped: a broken
 * session shows as the browser's own connection failing, and the engine republishes, with a
 * fresh session. Watching is the SFU's own business (its players, or WHEP on its side).
 */
export class WhipRoomBackend implements RoomBackend {
  /** Our live publications, by room and then UserId: the same UserId again replaces the earlier one, as on Janus. */
  private readonly live = new Map<string, Map<string, WhipPublication>>();

  constructor(
    private readonly endpoints: WhipEndpoints,
    private readonly log: Logger,
  ) {}

  async publish(request: PublishRequest): Promise<Publication> {
    const endpoint = this.endpoints.for(request.room.appId);
    if (!endpoint) throw new RoomError(`no WHIP endpoint is configured for AppId ${request.room.appId} (WEBCAST_WHIP_FILE)`, true);
    const room = roomKey(request.room);
    const earlier = this.live.get(room)?.get(request.userId);
    if (earlier) {
      this.log.info({ room, user: request.userId }, 'replacing an earlier publisher with the same UserId');
      await earlier.replace();
    }
    const url = new URL(fillWhipTemplate(endpoint.url, { AppId: request.room.appId, RoomId: request.room.roomId, UserId: request.userId, TaskId: request.taskId ?? '' }));
    const auth: Record<string, string> = endpoint.token ? { authorization: `Bearer ${endpoint.token}` } : {};
    let response: Response;
    try {
      response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/sdp', ...auth }, body: request.offerSdp, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const why = (err as Error).name === 'TimeoutError' ? `no answer within ${REQUEST_TIMEOUT_MS / 1000} s` : (cause?.code ?? cause?.message ?? (err as Error).message);
      throw new RoomError(`the WHIP endpoint ${shown(url)} cannot be reached: ${why}`);
    }
    const body = await readCapped(response, url);
    if (response.status !== 201) {
      const text = printableLine(body);
      // A 4xx is the endpoint's answer to this publisher (its token, its URL); a timeout, a rate
      // limit or a 5xx may pass.
      const permanent = response.status >= 400 && response.status < 500 && response.status !== 408 && response.status !== 429;
      throw new RoomError(`the WHIP endpoint ${shown(url)} refused the publisher: HTTP ${response.status}${text ? ` ${text}` : ''}`, permanent);
    }
    const location = response.headers.get('location');
    if (!body.startsWith('v=0')) throw new RoomError(`the WHIP endpoint ${shown(url)} answered 201 without an SDP answer`);
    if (!location) throw new RoomError(`the WHIP endpoint ${shown(url)} answered without a Location for the session`);
    let resource: URL;
    try {
      resource = new URL(location, response.url || url);
    } catch {
      throw new RoomError(`the WHIP endpoint ${shown(url)} answered with a Location that is no URL`);
    }
    const publication = new WhipPublication(body, resource, auth, this.log, () => {
      const inRoom = this.live.get(room);
      if (inRoom?.get(request.userId) === publication) inRoom.delete(request.userId);
      if (inRoom?.size === 0) this.live.delete(room);
    });
    const inRoom = this.live.get(room) ?? new Map<string, WhipPublication>();
    inRoom.set(request.userId, publication);
    this.live.set(room, inRoom);
    this.log.info({ room, user: request.userId, resource: shown(resource) }, 'published over WHIP');
    return publication;
  }

  subscribe(room: RoomRef): Promise<Subscription> {
    return Promise.reject(new RoomError(`watching room ${roomKey(room)} is the WHIP endpoint's SFU's business: this node only publishes into it`));
  }

  /** This node's own publishers in the room: a WHIP endpoint does not list those of others. */
  publishers(room: RoomRef): Promise<RoomPublisher[]> {
    const inRoom = this.live.get(roomKey(room));
    return Promise.resolve([...(inRoom?.entries() ?? [])].map(([userId, p]) => ({ id: p.resource, userId })));
  }

  /** A WHIP endpoint does not reset all of its sessions at once in a way we could see. */
  onReset(): void {}

  async close(): Promise<void> {
    await Promise.all([...this.live.values()].flatMap((inRoom) => [...inRoom.values()].map((p) => p.close())));
  }
}

class WhipPublication implements Publication {
  private closed = false;
  private lostListener: ((loss: PublicationLoss) => void) | undefined;
  private loss: PublicationLoss | undefined;

  constructor(
    readonly answerSdp: string,
    private readonly url: URL,
    private readonly auth: Record<string, string>,
    private readonly log: Logger,
    private readonly forget: () => void,
  ) {}

  get resource(): string {
    return shown(this.url);
  }

  onLost(listener: (loss: PublicationLoss) => void): void {
    this.lostListener = listener;
    if (this.loss) listener(this.loss);
  }

  /** Another publisher takes this UserId: this session ends, and its task with it. */
  async replace(): Promise<void> {
    if (!this.loss) {
      this.loss = { reason: 'another publisher took this UserId in the room', replaced: true };
      this.lostListener?.(this.loss);
    }
    await this.close();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.forget();
    try {
      const response = await fetch(this.url, { method: 'DELETE', headers: this.auth, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
      await response.body?.cancel();
      if (!response.ok) this.log.warn({ resource: shown(this.url), status: response.status }, 'the WHIP endpoint refused to end the session');
    } catch (err) {
      this.log.warn({ resource: shown(this.url), err: (err as Error).message }, 'could not end the WHIP session');
    }
  }
}
