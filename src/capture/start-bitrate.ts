import { parse, write } from 'sdp-transform';
import { AUX_CODECS } from '../rooms/sdp-bridge.js';
import type { Layer } from './layers.js';

/**
 * What libwebrtc's simulcast allocator aims a layer at, in kbps, by its picture's pixels
 * (media/engine/simulcast.cc, which interpolates between these rows).
 */
const TARGET_KBPS: readonly (readonly [number, number])[] = [
  [1920 * 1080, 4000],
  [1280 * 720, 2500],
  [960 * 540, 1200],
  [640 * 360, 500],
  [480 * 270, 350],
  [320 * 180, 150],
  [0, 30],
];

function targetKbps(pixels: number): number {
  const [top] = TARGET_KBPS;
  if (!top || pixels >= top[0]) return top?.[1] ?? 0;
  for (let i = 1; i < TARGET_KBPS.length; i += 1) {
    const [p1, k1] = TARGET_KBPS[i - 1] as readonly [number, number];
    const [p0, k0] = TARGET_KBPS[i] as readonly [number, number];
    if (pixels >= p0) return k0 + ((k1 - k0) * (pixels - p0)) / (p1 - p0);
  }
  return 0;
}

/**
 * Where the sender's bandwidth estimate should start so that every layer is sent from the first
 * second: 90 % of what the layers aim at together (a layer's own Bitrate caps its share).
 * libwebrtc starts at 300 kbps and sends a layer only once the estimate covers it; the big layer
 * of a 1280x720@30 + 640x360@15 task then waited 6-11 s beside two idle-priority busy loops.
 */
export function startBitrateKbps(layers: readonly Pick<Layer, 'width' | 'height' | 'maxBitrate'>[]): number {
  const sum = layers.reduce((kbps, l) => kbps + Math.min(targetKbps(l.width * l.height), l.maxBitrate === undefined ? Infinity : l.maxBitrate / 1000), 0);
  return Math.max(300, Math.round(0.9 * sum));
}

const PARAM = 'x-google-start-bitrate';

/**
 * The room's answer with the start of the bandwidth estimate on every video codec's fmtp.
 * libwebrtc reads it from the remote description, once per connection.
 */
export function withStartBitrate(answerSdp: string, kbps: number): string {
  const sdp = parse(answerSdp);
  for (const m of sdp.media) {
    if (m.type !== 'video') continue;
    m.fmtp ??= [];
    for (const { payload, codec } of m.rtp) {
      if (AUX_CODECS.has(codec.toLowerCase())) continue;
      const param = `${PARAM}=${Math.round(kbps)}`;
      const fmtp = m.fmtp.find((f) => f.payload === payload);
      if (!fmtp) m.fmtp.push({ payload, config: param });
      else fmtp.config = [...fmtp.config.split(';').filter((kv) => kv.trim() !== '' && !kv.trim().startsWith(`${PARAM}=`)), param].join(';');
    }
  }
  return write(sdp);
}
