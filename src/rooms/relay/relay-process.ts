/**
 * The media relay: a process of its own, so that whatever bytes a player sends to its DTLS,
 * SRTP and RTCP parsers (werift's, in JavaScript) can at worst end this process and the
 * relayed viewers in it, never the service. Started by rooms/relay/media-relay.ts.
 *
 * It serves the WHEP players that the SDP bridge cannot: those that number the publisher's
 * codecs otherwise than Janus writes them (Firefox's VP8 is 120, Chromium's H.264 is never
 * Janus's 107). Each viewer is two legs: `up` answers Janus's offer and receives, `down`
 * answers the player's and sends the same packets, which werift restamps with the player's
 * payload type, SSRC and header extensions. A picture-loss report from the player becomes one
 * to Janus, which asks the publisher for a keyframe; werift's sender answers NACKs itself.
 */
import { parse } from 'sdp-transform';
import { MediaStreamTrack, RTCPeerConnection, RTCRtpCodecParameters, type RTCRtpReceiver } from 'werift';
import { AUX_CODECS } from '../sdp-bridge.js';
import type { FromRelay, RelaySettings, ToRelay } from './relay-protocol.js';

const settings = JSON.parse(process.env.WEBCAST_RELAY_SETTINGS ?? '{}') as Partial<RelaySettings>;
/** At most one keyframe request a second reaches Janus: a player that asks in a loop cannot make the publisher send only keyframes. */
const PLI_INTERVAL_MS = 1000;

interface Leg {
  up: RTCPeerConnection;
  down: RTCPeerConnection;
  ended: boolean;
}

const legs = new Map<string, Leg>();
const send = (message: FromRelay): void => {
  process.send?.(message);
};

type Kind = 'audio' | 'video';
/** What Janus sends in each kind, as werift wants it: the first real codec of each of its sections. */
function sentCodecs(backendOffer: string): Record<Kind, RTCRtpCodecParameters[]> {
  const out: Record<Kind, RTCRtpCodecParameters[]> = { audio: [], video: [] };
  for (const m of parse(backendOffer).media) {
    if (m.type !== 'audio' && m.type !== 'video') continue;
    const rtp = m.rtp.find((r) => !AUX_CODECS.has(r.codec.toLowerCase()));
    if (!rtp) continue;
    const fmtp = m.fmtp.find((f) => f.payload === rtp.payload)?.config;
    out[m.type].push(
      new RTCRtpCodecParameters({
        mimeType: `${m.type}/${rtp.codec}`,
        clockRate: rtp.rate ?? 90000,
        ...(rtp.encoding ? { channels: Number(rtp.encoding) } : {}),
        ...(fmtp ? { parameters: fmtp } : {}),
        rtcpFeedback: (m.rtcpFb ?? []).filter((f) => Number(f.payload) === rtp.payload && f.type !== 'transport-cc').map((f) => ({ type: f.type, ...(f.subtype ? { parameter: f.subtype } : {}) })),
      }),
    );
  }
  return out;
}

function end(id: string, reason: string): void {
  const leg = legs.get(id);
  if (!leg || leg.ended) return;
  leg.ended = true;
  send({ type: 'ended', id, reason });
}

async function open(id: string, backendOffer: string, playerOffer: string): Promise<void> {
  const codecs = sentCodecs(backendOffer);
  const tracks: Record<Kind, MediaStreamTrack> = { audio: new MediaStreamTrack({ kind: 'audio' }), video: new MediaStreamTrack({ kind: 'video' }) };
  // No ICE servers: werift's default is Google's public STUN server, which would have the relay
  // look up and write to a third party for every viewer, and wait seconds for its answer on a
  // closed network. Players reach the relay at its own addresses and the operator's publicIps.
  const up = new RTCPeerConnection({ codecs, iceServers: [] });
  const down = new RTCPeerConnection({ codecs, iceServers: [], iceAdditionalHostAddresses: settings.publicIps ?? [] });
  const leg: Leg = { up, down, ended: false };
  legs.set(id, leg);

  let videoSsrc: number | undefined;
  up.onTrack.subscribe((track) => {
    const kind = track.kind as Kind;
    track.onReceiveRtp.subscribe((rtp) => {
      if (kind === 'video') videoSsrc = rtp.header.ssrc;
      tracks[kind].writeRtp(rtp);
    });
  });
  await up.setRemoteDescription({ type: 'offer', sdp: backendOffer });
  await up.setLocalDescription(await up.createAnswer());
  const videoReceiver: RTCRtpReceiver | undefined = up.getTransceivers().find((t) => t.kind === 'video')?.receiver;

  await down.setRemoteDescription({ type: 'offer', sdp: playerOffer });
  let lastPli = 0;
  for (const t of down.getTransceivers()) {
    const kind = t.kind as Kind;
    if (codecs[kind]?.length) {
      t.setDirection('sendonly');
      await t.sender.replaceTrack(tracks[kind]);
    } else t.setDirection('inactive');
    if (kind === 'video') {
      t.sender.onPictureLossIndication.subscribe(() => {
        if (videoSsrc === undefined || !videoReceiver || Date.now() - lastPli < PLI_INTERVAL_MS) return;
        lastPli = Date.now();
        void videoReceiver.sendRtcpPLI(videoSsrc).catch(() => undefined);
      });
    }
  }
  await down.setLocalDescription(await down.createAnswer());

  down.connectionStateChange.subscribe((state) => {
    if (state === 'connected') send({ type: 'connected', id });
    if (state === 'failed' || state === 'closed') end(id, `the player's connection ${state}`);
  });
  up.connectionStateChange.subscribe((state) => {
    if (state === 'failed') end(id, 'the connection to janus failed');
  });
  send({ type: 'opened', id, backendAnswer: up.localDescription?.sdp ?? '', playerAnswer: down.localDescription?.sdp ?? '' });
}

async function close(id: string): Promise<void> {
  const leg = legs.get(id);
  if (!leg) return;
  legs.delete(id);
  leg.ended = true;
  await Promise.allSettled([leg.up.close(), leg.down.close()]);
}

process.on('message', (message: ToRelay) => {
  switch (message.type) {
    case 'open':
      open(message.id, message.backendOffer, message.playerOffer).catch((err: unknown) => {
        void close(message.id);
        send({ type: 'failed', id: message.id, message: err instanceof Error ? err.message : String(err) });
      });
      break;
    case 'trickle': {
      const leg = legs.get(message.id);
      for (const candidate of message.candidates) void leg?.down.addIceCandidate({ candidate, sdpMLineIndex: 0 }).catch(() => undefined);
      break;
    }
    case 'close':
      void close(message.id);
      break;
  }
});
// The service went away: so does its relay.
process.on('disconnect', () => process.exit(0));
// Ctrl-C in a terminal reaches the whole process group: the service ends this process itself.
process.on('SIGINT', () => undefined);
send({ type: 'ready' });
