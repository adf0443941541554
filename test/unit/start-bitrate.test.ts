import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { startBitrateKbps, withStartBitrate } from '../../src/capture/start-bitrate.js';

const answer = readFileSync(new URL('./sdp/janus-publisher-answer.sdp', import.meta.url), 'utf8');
const lines = (sdp: string): string[] => sdp.split(/\r?\n/).filter((l) => l !== '');

describe('where the publisher’s bandwidth estimate starts', () => {
  it('puts the start on the video codec of Janus’s answer, and changes nothing else', () => {
    const out = withStartBitrate(answer, 2700);
    const added = lines(out).filter((l) => !lines(answer).includes(l));
    assert.deepEqual(added, ['a=fmtp:96 x-google-start-bitrate=2700']);
    assert.deepEqual(lines(answer).filter((l) => !lines(out).includes(l)), []);
  });

  it('adds to a codec’s own parameters, and says it once however often it is applied', () => {
    const h264 = answer.replace('a=rtpmap:96 VP8/90000', 'a=rtpmap:96 H264/90000\r\na=fmtp:96 packetization-mode=1;profile-level-id=42e01f');
    const out = withStartBitrate(withStartBitrate(h264, 1000), 2000);
    assert.deepEqual(lines(out).filter((l) => l.startsWith('a=fmtp:')), [
      'a=fmtp:96 packetization-mode=1;profile-level-id=42e01f;x-google-start-bitrate=2000',
      'a=fmtp:97 apt=96',
      'a=fmtp:111 useinbandfec=1;stereo=1',
    ]);
  });

  it('starts where every layer is sent: 90 % of what they aim at, each capped by its own Bitrate', () => {
    const layer = (width: number, height: number, kbps?: number) => ({ width, height, maxBitrate: kbps === undefined ? undefined : kbps * 1000 });
    assert.equal(startBitrateKbps([layer(1280, 720), layer(640, 360)]), 2700);
    assert.equal(startBitrateKbps([layer(1920, 1080)]), 3600);
    assert.equal(startBitrateKbps([layer(1280, 720, 1000)]), 900);
    // Between two rows of the table, by pixels: 800x450 lies 36 % of the way from 640x360 to 960x540.
    assert.equal(startBitrateKbps([layer(800, 450)]), Math.round(0.9 * (500 + 700 * ((800 * 450 - 640 * 360) / (960 * 540 - 640 * 360)))));
    // Never below where libwebrtc starts by itself.
    assert.equal(startBitrateKbps([layer(320, 180)]), 300);
  });
});
