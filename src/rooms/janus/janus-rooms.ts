import Janode, { type JanodeConnection, type JanodeSession } from 'janode';
import VideoRoomPlugin, { type VideoRoomHandle } from 'janode/plugins/videoroom';
import type { Logger } from 'pino';
import { RoomError, type Publication, type PublicationLoss, type PublishRequest, type RoomBackend, type RoomPublisher, type RoomRef, type Subscription } from '../room-backend.js';

/** (AppId, RoomId) is the Janus room `AppId/RoomId`; string room ids must be on in the videoroom config. */
export const janusRoomId = (room: RoomRef): string => `${room.appId}/${room.roomId}`;

// janode logs to the console itself, every session and handle at 'info', and at 'warn' each
// late ack of a request Janus already answered (harmless, many a minute); only errors belong there.
Janode.Logger.setLevel('error');

const ROOM_EXISTS = 427;
const PLUGIN_KICKED = 'videoroom_kicked';
const PLUGIN_LEAVING = 'videoroom_leaving';
const errorCode = (err: unknown): number | undefined => (err as { _code?: number })._code;
const PLUGIN_SUBSTREAM = 'videoroom_sc_substream_layer';
/**
 * A viewer's switch of simulcast layer waits for a keyframe of the new layer. Janus 1.1 asks the
 * publisher for one once, when told to switch, and then waits for it for ever; the publisher's
 * libwebrtc drops a keyframe request that comes within 300 ms of the one before it (its
 * minimum keyframe interval). So a viewer who switched twice within 300 ms, or after a new
 * viewer joined, stayed on the old layer until the next keyframe, minutes later with VP8 (seen:
 * 20 s on end, Janus's three requests in one second, the publisher's third one dropped). Told
 * again, each time later than that interval, Janus asks again; a layer the publisher does not
 * send at all is given up on after a few tries.
 */
const SWITCH_ASK_AGAIN_MS = 500;
const SWITCH_ASKS = 6;

/**
 * Rooms on a Janus VideoRoom, signalled through janode over WebSocket. One Janus session holds
 * a control handle (create, list, kick) and one handle per publisher or subscriber.
 */
export class JanusRoomBackend implements RoomBackend {
  private connection: JanodeConnection | undefined;
  private session: JanodeSession | undefined;
  private control: VideoRoomHandle | undefined;
  private readonly resetListeners: (() => void)[] = [];
  /** Our publications by Janus room and feed, so that a replaced one knows it was replaced. */
  private readonly publications = new Map<string, JanusPublication>();
  private closing = false;

  private constructor(
    private readonly log: Logger,
    /** Janus's api_secret, sent with every request; undefined when that Janus has none. */
    private readonly apiSecret: string | undefined,
  ) {}

  static async connect(wsUrl: string, log: Logger, apiSecret?: string): Promise<JanusRoomBackend> {
    const backend = new JanusRoomBackend(log, apiSecret);
    await backend.open(wsUrl);
    return backend;
  }

  /** Opens a new connection, as after a restart of Janus; everything published before is gone. */
  async reconnect(wsUrl: string): Promise<void> {
    await this.connection?.close().catch(() => undefined);
    await this.open(wsUrl);
  }

  private async open(wsUrl: string): Promise<void> {
    const connection = await Janode.connect({ address: { url: wsUrl, ...(this.apiSecret ? { apisecret: this.apiSecret } : {}) }, retry_time_secs: 1, max_retries: 3 });
    connection.once(Janode.EVENT.CONNECTION_CLOSED, () => this.lost(connection, 'connection closed'));
    connection.once(Janode.EVENT.CONNECTION_ERROR, (err: Error) => this.lost(connection, `connection error: ${err.message}`));
    this.connection = connection;
    this.session = await connection.create(15);
    this.control = await this.session.attach(VideoRoomPlugin);
  }

  private lost(connection: JanodeConnection, reason: string): void {
    if (connection !== this.connection || this.closing) return;
    this.log.warn({ reason }, 'lost the connection to janus');
    this.connection = undefined;
    for (const l of this.resetListeners) l();
  }

  onReset(listener: () => void): void {
    this.resetListeners.push(listener);
  }

  private ready(): { session: JanodeSession; control: VideoRoomHandle } {
    if (!this.session || !this.control || !this.connection) throw new RoomError('not connected to janus');
    return { session: this.session, control: this.control };
  }

  private async ensureRoom(room: string): Promise<void> {
    const { control } = this.ready();
    const { exists } = await control.exists({ room });
    if (exists) return;
    try {
      await control.create({ room, permanent: false, max_publishers: 100, videocodec: 'vp8,h264', audiocodec: 'opus', notify_joining: true, bitrate: 0 });
      this.log.info({ room }, 'room created');
    } catch (err) {
      if (errorCode(err) !== ROOM_EXISTS) throw err;
    }
  }

  async publishers(ref: RoomRef): Promise<RoomPublisher[]> {
    const room = janusRoomId(ref);
    const { control } = this.ready();
    const { exists } = await control.exists({ room });
    if (!exists) return [];
    const { participants } = await control.listParticipants({ room });
    return participants.filter((p) => p.publisher).map((p) => ({ id: String(p.feed), userId: p.display ?? '' }));
  }

  async publish(request: PublishRequest): Promise<Publication> {
    const room = janusRoomId(request.room);
    await this.ensureRoom(room);
    const { session, control } = this.ready();
    // The same UserId publishing again replaces the earlier publisher.
    const { participants } = await control.listParticipants({ room });
    for (const p of participants.filter((x) => x.display === request.userId)) {
      this.publications.get(`${room}#${String(p.feed)}`)?.replacing();
      await control.kick({ room, feed: p.feed }).catch((err: unknown) => this.log.warn({ err, room, feed: p.feed }, 'kick failed'));
      this.log.info({ room, user: request.userId, feed: p.feed }, 'replaced an earlier publisher with the same UserId');
    }
    const handle = await session.attach(VideoRoomPlugin);
    let joined;
    try {
      joined = await handle.joinConfigurePublisher({ room, display: request.userId, audio: true, video: true, jsep: { type: 'offer', sdp: request.offerSdp } });
    } catch (err) {
      await handle.detach().catch(() => undefined);
      throw new RoomError(`janus refused the publisher: ${(err as Error).message}`);
    }
    if (!joined.jsep) {
      await handle.detach().catch(() => undefined);
      throw new RoomError('janus answered the publisher without SDP');
    }
    const id = `${room}#${String(joined.feed)}`;
    const publication = new JanusPublication(handle, joined.jsep.sdp, String(joined.feed), () => this.publications.delete(id));
    this.publications.set(id, publication);
    return publication;
  }

  async subscribe(ref: RoomRef, userId: string, layer?: number): Promise<Subscription> {
    const room = janusRoomId(ref);
    const publisher = (await this.publishers(ref)).find((p) => p.userId === userId);
    if (!publisher) throw new RoomError(`nobody publishes as ${userId} in room ${room}`);
    const { session } = this.ready();
    const handle = await session.attach(VideoRoomPlugin);
    const joined = await handle.joinSubscriber({ room, feed: publisher.id });
    // Janus 1.1 drops a substream given in the join's legacy feed form; a configure takes it.
    // Its default is the highest layer, ours 1: that one is left to the default, as it always was.
    if (layer !== undefined && layer < 1) await handle.configure({ sc_substream_layer: layer });
    return new JanusSubscription(handle, joined.jsep.sdp, userId, this.log);
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.session?.destroy().catch(() => undefined);
    await this.connection?.close().catch(() => undefined);
  }
}

class JanusPublication implements Publication {
  private closed = false;
  private lostListener: ((loss: PublicationLoss) => void) | undefined;
  private loss: PublicationLoss | undefined;
  private replaced = false;

  constructor(
    private readonly handle: VideoRoomHandle,
    readonly answerSdp: string,
    readonly feed: string,
    private readonly forget: () => void,
  ) {
    const lose = (reason: string, replaced = false) => () => this.lose({ reason, replaced: replaced || this.replaced });
    handle.once(VideoRoomPlugin.EVENT.VIDEOROOM_LEAVING ?? PLUGIN_LEAVING, (data: { reason?: string }) => {
      if (data.reason === 'kicked') this.lose({ reason: 'another publisher took this UserId in the room', replaced: true });
    });
    handle.once(Janode.EVENT.HANDLE_DETACHED, lose('the janus handle was detached'));
    handle.once(Janode.EVENT.HANDLE_HANGUP, lose('janus hung up the publisher'));
    handle.once(Janode.EVENT.HANDLE_ICE_FAILED, lose('ICE failed between the browser and janus'));
    // We kick only to replace a publisher with the same UserId.
    handle.once(VideoRoomPlugin.EVENT.VIDEOROOM_KICKED ?? PLUGIN_KICKED, lose('another publisher took this UserId in the room', true));
  }

  /** The backend is about to kick this publisher for a new one with the same UserId. */
  replacing(): void {
    this.replaced = true;
  }

  private lose(loss: PublicationLoss): void {
    this.forget();
    if (this.closed || this.loss) return;
    this.loss = loss;
    this.lostListener?.(loss);
  }

  onLost(listener: (loss: PublicationLoss) => void): void {
    this.lostListener = listener;
    if (this.loss) listener(this.loss);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.forget();
    await this.handle.leave().catch(() => undefined);
    await this.handle.detach().catch(() => undefined);
  }
}

class JanusSubscription implements Subscription {
  connected = false;
  private ended: string | undefined;
  private closed = false;
  private endedListener: ((reason: string) => void) | undefined;
  /** The layer Janus last said it relays to this viewer. */
  private relayed: number | undefined;
  private askAgain: NodeJS.Timeout | undefined;

  constructor(
    private readonly handle: VideoRoomHandle,
    readonly offerSdp: string,
    readonly userId: string,
    private readonly log: Logger,
  ) {
    handle.once(Janode.EVENT.HANDLE_WEBRTCUP, () => (this.connected = true));
    handle.on(VideoRoomPlugin.EVENT.VIDEOROOM_SC_SUBSTREAM_LAYER ?? PLUGIN_SUBSTREAM, (data: { sc_substream_layer?: number }) => (this.relayed = data.sc_substream_layer));
    const end = (reason: string) => () => this.end(reason);
    // Janus hangs up a subscriber whose viewer left or stopped answering, and every subscriber of a publisher that left.
    handle.once(Janode.EVENT.HANDLE_HANGUP, end('janus hung up: the viewer left, or the publisher did'));
    handle.once(Janode.EVENT.HANDLE_ICE_FAILED, end('ICE failed between the viewer and janus'));
    handle.once(Janode.EVENT.HANDLE_DETACHED, end('the janus handle was detached'));
  }

  private end(reason: string): void {
    if (this.closed || this.ended !== undefined) return;
    this.ended = reason;
    this.endedListener?.(reason);
  }

  onEnded(listener: (reason: string) => void): void {
    this.endedListener = listener;
    if (this.ended !== undefined) listener(this.ended);
  }

  async start(answerSdp: string): Promise<void> {
    await this.handle.start({ jsep: { type: 'answer', sdp: answerSdp } });
  }

  async setLayer(layer: number): Promise<void> {
    clearTimeout(this.askAgain);
    // Janus says which layer it relays once it switched, or at once when it relays that one already.
    this.relayed = undefined;
    await this.handle.configure({ sc_substream_layer: layer });
    let asks = 1;
    const check = (): void => {
      if (this.closed || this.relayed === layer) return;
      if (asks === SWITCH_ASKS) {
        this.log.warn({ layer, relayed: this.relayed, asks }, 'janus did not switch a viewer to the layer it asked for: the publisher may not send it');
        return;
      }
      asks += 1;
      this.handle.configure({ sc_substream_layer: layer }).catch(() => undefined);
      this.askAgain = setTimeout(check, SWITCH_ASK_AGAIN_MS);
    };
    this.askAgain = setTimeout(check, SWITCH_ASK_AGAIN_MS);
  }

  async trickle(candidates: { candidate: string; mid: string }[], complete: boolean): Promise<void> {
    if (candidates.length > 0) await this.handle.trickle(candidates.map((c) => ({ candidate: c.candidate, sdpMid: c.mid })));
    if (complete) await this.handle.trickleComplete();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.askAgain);
    await this.handle.leave().catch(() => undefined);
    await this.handle.detach().catch(() => undefined);
  }
}
