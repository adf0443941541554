import { parse, write, type MediaDescription, type SessionDescription } from 'sdp-transform';

/**
 * Joins a client that offers (a WHEP player) to a room backend that offers too (Janus's
 * VideoRoom makes the offer to every subscriber): each side gets an answer written from the
 * other's offer, so the two talk ICE, DTLS and RTP directly and nothing is relayed by us.
 *
 * Why it holds: each answer carries the other peer's own ICE credentials, DTLS fingerprint and
 * candidates. The player is told we are DTLS passive and the backend that we are active, so the
 * player is the DTLS client and the backend its server. Both sides think they offered, so both
 * start ICE controlling, and ICE's role-conflict rule (RFC 8445 7.3.1.1) settles it.
 *
 * What it cannot do: change what the backend writes into its packets. Janus 1.1.2 sends each
 * codec under its own payload type number whatever the answer says (measured: H.264 as 107
 * against an answer of 102 was never decoded), so a codec pairs only where both sides number it
 * alike; libwebrtc players do for VP8 (96) and Opus (111). For the others the error says
 * `renumbered`, and rooms/relay carries their media instead.
 */
export class SdpBridgeError extends Error {
  constructor(
    message: string,
    /** The player decodes what is sent but numbers it otherwise: a relay that rewrites the numbers would serve it. */
    readonly renumbered = false,
  ) {
    super(message);
    this.name = 'SdpBridgeError';
  }
}

export interface BridgedAnswers {
  /** To the player: what the backend sends, in the player's terms. */
  forClient: string;
  /** To the backend: the player's transport, and what it receives. */
  forBackend: string;
  /** The player's mid → the backend's, for the media both have (trickled candidates name the player's). */
  mids: Map<string, string>;
}

type Media = MediaDescription;
type Rtp = Media['rtp'][number];
type Feedback = NonNullable<Media['rtcpFb']>[number];

/** Codecs that only carry another (retransmission, redundancy, comfort noise, DTMF). */
export const AUX_CODECS = new Set(['rtx', 'red', 'ulpfec', 'flexfec-03', 'cn', 'telephone-event']);

function fmtpOf(m: Media, pt: number): Map<string, string> {
  const line = m.fmtp.find((f) => f.payload === pt)?.config ?? '';
  return new Map(
    line
      .split(';')
      .map((kv) => kv.trim().split('='))
      .filter((kv): kv is [string, string] => kv.length === 2)
      .map(([k, v]) => [k.toLowerCase(), v.toLowerCase()]),
  );
}

/** Same codec, and for H.264 and VP9 the same profile and packetization: the decoder must take what is sent. */
function sameCodec(a: Media, ra: Rtp, b: Media, rb: Rtp): boolean {
  const name = ra.codec.toLowerCase();
  if (name !== rb.codec.toLowerCase() || ra.rate !== rb.rate) return false;
  const fa = fmtpOf(a, ra.payload);
  const fb = fmtpOf(b, rb.payload);
  if (name === 'h264') {
    const profile = (f: Map<string, string>): string => (f.get('profile-level-id') ?? '42001f').slice(0, 2);
    return (fa.get('packetization-mode') ?? '0') === (fb.get('packetization-mode') ?? '0') && profile(fa) === profile(fb);
  }
  if (name === 'vp9') return (fa.get('profile-id') ?? '0') === (fb.get('profile-id') ?? '0');
  return true;
}

const rtxOf = (m: Media, pt: number): number | undefined =>
  m.rtp.find((r) => r.codec.toLowerCase() === 'rtx' && fmtpOf(m, r.payload).get('apt') === String(pt))?.payload;

const sameFeedback = (a: Feedback, b: Feedback): boolean => Number(a.payload) === Number(b.payload) && a.type === b.type && (a.subtype ?? '') === (b.subtype ?? '');

/**
 * The header extensions both know, under ids both use. The mid extension is left out where the
 * two named the section differently: the backend would write its own mid into every packet and
 * the player would file the audio under video. The player then sorts streams by their SSRCs.
 */
const MID_EXTENSION = 'urn:ietf:params:rtp-hdrext:sdes:mid';
function sharedExtensions(c: Media, b: Media): NonNullable<Media['ext']> {
  return (c.ext ?? []).filter((e) => (b.ext ?? []).some((g) => g.uri === e.uri && g.value === e.value) && (e.uri !== MID_EXTENSION || c.mid === b.mid));
}

interface Pairing {
  client: Section;
  backend: Section;
  /** The payload types both sides use: the codec sent, and its retransmissions where both have them. */
  payloads: number[];
}

function pairCodecs(client: Media, backend: Media): number[] | undefined {
  for (const rb of backend.rtp) {
    if (AUX_CODECS.has(rb.codec.toLowerCase())) continue;
    const rc = client.rtp.find((r) => r.payload === rb.payload && sameCodec(client, r, backend, rb));
    if (!rc) continue;
    const rtx = rtxOf(backend, rb.payload);
    return rtx !== undefined && rtx === rtxOf(client, rc.payload) ? [rb.payload, rtx] : [rb.payload];
  }
  return undefined;
}

/** Whether the player's section takes a codec the backend's sends, under any number. */
const decodes = (client: Media, backend: Media): boolean =>
  backend.rtp.some((rb) => !AUX_CODECS.has(rb.codec.toLowerCase()) && client.rtp.some((rc) => sameCodec(client, rc, backend, rb)));

function transportOf(sdp: SessionDescription, m: Media): Pick<Media, 'iceUfrag' | 'icePwd' | 'fingerprint'> {
  const iceUfrag = m.iceUfrag ?? sdp.iceUfrag;
  const icePwd = m.icePwd ?? sdp.icePwd;
  const fingerprint = m.fingerprint ?? sdp.fingerprint;
  if (!iceUfrag || !icePwd || !fingerprint) throw new SdpBridgeError('the offer has no ICE credentials or no DTLS fingerprint');
  return { iceUfrag: String(iceUfrag), icePwd: String(icePwd), fingerprint };
}

type Section = Media & { mid: string };
/** A data channel or anything else that is not audio or video over SRTP is declined. */
const isRtp = (m: Media): boolean => m.port !== 0 && m.protocol === 'UDP/TLS/RTP/SAVPF' && (m.type === 'audio' || m.type === 'video');
interface Offer {
  sdp: SessionDescription;
  media: [Section, ...Section[]];
}

function parseOffer(sdp: string, who: string): Offer {
  let parsed: SessionDescription;
  try {
    parsed = parse(sdp);
  } catch {
    throw new SdpBridgeError(`${who}'s offer is not SDP`);
  }
  if (parsed.version !== 0 || !Array.isArray(parsed.media) || parsed.media.length === 0) throw new SdpBridgeError(`${who}'s offer is not SDP with media`);
  const media = parsed.media.map((m): Section => {
    if (m.mid === undefined) throw new SdpBridgeError(`${who}'s offer has a media section without a mid`);
    return { ...m, mid: String(m.mid) };
  });
  if (!media.some(isRtp)) throw new SdpBridgeError(`${who}'s offer has no WebRTC audio or video (UDP/TLS/RTP/SAVPF)`);
  const [first, ...rest] = media;
  if (!first) throw new SdpBridgeError(`${who}'s offer is not SDP with media`);
  return { sdp: parsed, media: [first, ...rest] };
}

const offered = (m: Media): string =>
  m.rtp
    .filter((r) => !AUX_CODECS.has(r.codec.toLowerCase()))
    .map((r) => `${r.codec} as ${r.payload}`)
    .join(', ');

const rejected = (m: Section): Media => ({ type: m.type, port: 0, protocol: m.protocol, ...(m.payloads === undefined ? {} : { payloads: m.payloads }), rtp: m.rtp.slice(0, 1), fmtp: [], mid: m.mid, direction: 'inactive' });

/**
 * One section of an answer to `own`'s offer: its own mid, codecs and feedback where the other
 * side has them too, and the other peer's transport (credentials, fingerprint, candidates).
 */
function answerSection(
  own: Section,
  other: Section,
  payloads: number[],
  o: { direction: 'sendonly' | 'recvonly'; setup: 'active' | 'passive'; transport: Pick<Media, 'iceUfrag' | 'icePwd' | 'fingerprint'>; peer: Section },
): Media {
  return {
    type: own.type,
    port: 9,
    protocol: own.protocol,
    payloads: payloads.join(' '),
    connection: { version: 4, ip: '0.0.0.0' },
    mid: own.mid,
    direction: o.direction,
    rtcpMux: 'rtcp-mux',
    ...o.transport,
    setup: o.setup,
    rtp: own.rtp.filter((r) => payloads.includes(r.payload)),
    fmtp: own.fmtp.filter((f) => payloads.includes(f.payload)),
    rtcpFb: (own.rtcpFb ?? []).filter((f) => (other.rtcpFb ?? []).some((g) => sameFeedback(f, g))),
    ext: sharedExtensions(own, other),
    candidates: o.peer.candidates ?? [],
    // Janus gathers before it offers; a player that trickles sends the rest by PATCH.
    ...(o.peer.endOfCandidates ? { endOfCandidates: 'end-of-candidates' } : {}),
  };
}

function session(origin: Offer, media: Media[], allowMixed: boolean): string {
  const sdp: SessionDescription = {
    version: 0,
    origin: { username: '-', sessionId: origin.sdp.origin?.sessionId ?? Date.now(), sessionVersion: 1, netType: 'IN', ipVer: 4, address: '127.0.0.1' },
    name: '-',
    timing: { start: 0, stop: 0 },
    groups: [{ type: 'BUNDLE', mids: media.filter((m) => m.port !== 0).map((m) => m.mid).join(' ') }],
    ...(allowMixed ? { extmapAllowMixed: 'extmap-allow-mixed' } : {}),
    msidSemantic: { semantic: 'WMS', token: '*' },
    media,
  };
  return write(sdp);
}

/** Both answers, or an SdpBridgeError that says what the player asked for that cannot be sent. */
export function bridgeOffers(clientOffer: string, backendOffer: string): BridgedAnswers {
  const client = parseOffer(clientOffer, 'the player');
  const backend = parseOffer(backendOffer, 'the room');

  // Each backend section goes to the first of the player's sections of its kind that can take it.
  const pairings: Pairing[] = [];
  const taken = new Set<Section>();
  for (const b of backend.media) {
    for (const c of client.media) {
      if (taken.has(c) || c.type !== b.type || !isRtp(c) || c.direction === 'sendonly' || c.direction === 'inactive') continue;
      const payloads = pairCodecs(c, b);
      if (!payloads) continue;
      pairings.push({ client: c, backend: b, payloads });
      taken.add(c);
      break;
    }
  }
  const renumbered = backend.media.filter((b) => !pairings.some((p) => p.backend === b) && client.media.some((c) => c.type === b.type && isRtp(c) && decodes(c, b)));
  if (renumbered.length > 0) {
    throw new SdpBridgeError(`the player numbers this publisher's codecs otherwise: it is sent as ${renumbered.map(offered).join('; ')}`, true);
  }
  if (!pairings.some((p) => p.backend.type === 'video')) {
    const sent = backend.media.filter((m) => m.type === 'video').map(offered).join('; ') || 'no video';
    throw new SdpBridgeError(`the player cannot receive this publisher's video: it is sent as ${sent}, and the player's offer has no video section that takes that codec`);
  }

  const backendTransport = transportOf(backend.sdp, backend.media[0]);
  const clientTransport = transportOf(client.sdp, client.media[0]);
  const allowMixed = Boolean(client.sdp.extmapAllowMixed && backend.sdp.extmapAllowMixed);

  const forClient = client.media.map((c): Media => {
    const p = pairings.find((x) => x.client === c);
    if (!p) return rejected(c);
    const b = p.backend;
    return {
      ...answerSection(c, b, p.payloads, { direction: 'sendonly', setup: 'passive', transport: backendTransport, peer: backend.media[0] }),
      ...(c.rtcpRsize ? { rtcpRsize: 'rtcp-rsize' } : {}),
      ...(b.ssrcs ? { ssrcs: b.ssrcs } : {}),
      ...(b.ssrcGroups ? { ssrcGroups: b.ssrcGroups } : {}),
      ...(b.msid ? { msid: b.msid } : {}),
    };
  });
  const forBackend = backend.media.map((b): Media => {
    const p = pairings.find((x) => x.backend === b);
    return p ? answerSection(b, p.client, p.payloads, { direction: 'recvonly', setup: 'active', transport: clientTransport, peer: client.media[0] }) : rejected(b);
  });

  return {
    forClient: session(backend, forClient, allowMixed),
    forBackend: session(client, forBackend, allowMixed),
    mids: new Map(pairings.map((p) => [p.client.mid, p.backend.mid])),
  };
}

/**
 * The player's offer with only the codecs it could decode of what the backend sends (and their
 * retransmissions), under the player's own numbers: what a relay answers, so that it sends
 * exactly that codec. A player's first H.264 may be another packetization than Janus's.
 */
export function narrowOffer(clientOffer: string, backendOffer: string): string {
  const client = parseOffer(clientOffer, 'the player');
  const backend = parseOffer(backendOffer, 'the room');
  const media = client.media.map((c): Media => {
    const b = backend.media.find((x) => x.type === c.type && isRtp(x));
    if (!b || !isRtp(c)) return c;
    const keep = c.rtp.filter((rc) => !AUX_CODECS.has(rc.codec.toLowerCase()) && b.rtp.some((rb) => !AUX_CODECS.has(rb.codec.toLowerCase()) && sameCodec(c, rc, b, rb))).map((r) => r.payload);
    const rtx = keep.map((pt) => rtxOf(c, pt)).filter((pt): pt is number => pt !== undefined);
    const pts = [...keep, ...rtx];
    if (keep.length === 0) return c;
    return {
      ...c,
      payloads: pts.join(' '),
      rtp: c.rtp.filter((r) => pts.includes(r.payload)),
      fmtp: c.fmtp.filter((f) => pts.includes(f.payload)),
      rtcpFb: (c.rtcpFb ?? []).filter((f) => pts.includes(Number(f.payload))),
    };
  });
  return write({ ...client.sdp, media });
}
