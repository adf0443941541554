/**
 * Where pages are published to. Janus is the built-in backend; a WHIP backend can sit beside
 * it behind the same interface. Capture knows rooms only through this file.
 */
export interface RoomRef {
  appId: string;
  roomId: string;
}

export interface PublishRequest {
  room: RoomRef;
  userId: string;
  /** The task publishing (a WHIP URL may name it). */
  taskId?: string;
  /** A complete SDP offer, candidates included (no trickle). */
  offerSdp: string;
}

export interface Publication {
  readonly answerSdp: string;
  /** Leaves the room; safe to call twice. */
  close(): Promise<void>;
  /** Called once if the backend drops the publisher by itself (replaced, hung up, connection lost). */
  onLost(listener: (loss: PublicationLoss) => void): void;
}

export interface PublicationLoss {
  /** Another publisher took this UserId in the room: the end of this one, not a fault to heal. */
  replaced: boolean;
  reason: string;
}

export interface Subscription {
  /** The backend's SDP offer; answer it with `start`. */
  readonly offerSdp: string;
  readonly userId: string;
  start(answerSdp: string): Promise<void>;
  /** Simulcast layer to receive: 0 = the smallest. */
  setLayer(layer: number): Promise<void>;
  /** The viewer's candidates found after its answer (trickle ICE), for the backend's section `mid`; `complete` = no more to come. */
  trickle(candidates: { candidate: string; mid: string }[], complete: boolean): Promise<void>;
  /** True once media flows to the viewer (ICE and DTLS up). */
  readonly connected: boolean;
  /** Called once if the backend ends the subscription by itself: the viewer went away, ICE failed, the publisher left. */
  onEnded(listener: (reason: string) => void): void;
  close(): Promise<void>;
}

export interface RoomPublisher {
  id: string;
  userId: string;
}

export interface RoomBackend {
  publish(request: PublishRequest): Promise<Publication>;
  subscribe(room: RoomRef, userId: string, layer?: number): Promise<Subscription>;
  publishers(room: RoomRef): Promise<RoomPublisher[]>;
  /** Fires when every publication was lost at once (the backend restarted or went away). */
  onReset(listener: () => void): void;
  close(): Promise<void>;
}

export class RoomError extends Error {
  constructor(
    message: string,
    /** The backend refused this publisher for good (a wrong token, no such endpoint): trying again would not help. */
    readonly permanent = false,
  ) {
    super(message);
    this.name = 'RoomError';
  }
}

/** Text a room or its endpoint sent (an error, a reason), as one short printable line for a log or a FailureDetail. */
export const printableLine = (text: string): string => text.replace(/[^\x20-\x7e\u00a0-\uffff]+/g, ' ').trim().slice(0, 200);
