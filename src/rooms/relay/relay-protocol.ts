/**
 * The messages between the service and its media relay process (rooms/relay). One relayed
 * viewer is two WebRTC legs in that process: one answers the room backend's offer and
 * receives, the other answers the player's offer and sends what the first receives, under the
 * player's own payload type numbers.
 */
export type ToRelay =
  | { type: 'open'; id: string; backendOffer: string; playerOffer: string }
  | { type: 'trickle'; id: string; candidates: string[]; complete: boolean }
  | { type: 'close'; id: string };

export type FromRelay =
  /** Loaded and listening: sent once, before anything else. */
  | { type: 'ready' }
  | { type: 'opened'; id: string; backendAnswer: string; playerAnswer: string }
  | { type: 'failed'; id: string; message: string }
  | { type: 'connected'; id: string }
  | { type: 'ended'; id: string; reason: string };

/** How the relay process is told its settings (argv would show them in ps; there are none secret, but keep one way). */
export interface RelaySettings {
  /** Addresses players reach this machine at, added to its own interfaces' (behind NAT). */
  publicIps: string[];
}
