import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse } from 'sdp-transform';
import { bridgeOffers, SdpBridgeError } from '../../src/rooms/sdp-bridge.js';

// Recorded on this project's stack: Janus 1.1.2's offer to a subscriber, and Chromium 156's recvonly offer.
const JANUS = readFileSync(new URL('./sdp/janus-subscriber-offer.sdp', import.meta.url), 'utf8');
const PLAYER = readFileSync(new URL('./sdp/chromium-player-offer.sdp', import.meta.url), 'utf8');

const sections = (sdp: string) => parse(sdp).media;
const byType = (sdp: string, type: string) => {
  const m = sections(sdp).find((x) => x.type === type && x.port !== 0);
  assert.ok(m, `a ${type} section`);
  return m;
};

/** The player's offer with its audio section first: the mids then differ from Janus's. */
function audioFirst(sdp: string): string {
  const [head = '', video = '', audio = ''] = sdp.split(/(?=^m=)/m);
  return head + audio.replace('a=mid:1', 'a=mid:0') + video.replace('a=mid:0', 'a=mid:1');
}

describe('joining a WHEP player\'s offer to Janus\'s offer', () => {
  it('gives each side the other\'s ICE credentials, fingerprint and candidates, and the player the DTLS client\'s role', () => {
    const { forClient, forBackend } = bridgeOffers(PLAYER, JANUS);
    const janusVideo = byType(JANUS, 'video');
    const playerVideo = byType(PLAYER, 'video');
    for (const m of sections(forClient)) {
      assert.equal(m.iceUfrag, janusVideo.iceUfrag);
      assert.equal(m.icePwd, janusVideo.icePwd);
      assert.equal(m.fingerprint?.hash, parse(JANUS).fingerprint?.hash);
      assert.equal(m.setup, 'passive');
      assert.equal(m.direction, 'sendonly');
      assert.deepEqual(m.candidates?.map((c) => c.ip), janusVideo.candidates?.map((c) => c.ip));
    }
    for (const m of sections(forBackend)) {
      assert.equal(m.iceUfrag, playerVideo.iceUfrag);
      assert.equal(m.fingerprint?.hash, playerVideo.fingerprint?.hash);
      assert.equal(m.setup, 'active');
      assert.equal(m.direction, 'recvonly');
      assert.deepEqual(m.candidates?.map((c) => c.ip), playerVideo.candidates?.map((c) => c.ip));
    }
  });

  it('keeps the codec Janus sends under the number both use, with its retransmissions, and lists Janus\'s SSRCs to the player', () => {
    const { forClient, forBackend } = bridgeOffers(PLAYER, JANUS);
    for (const sdp of [forClient, forBackend]) {
      assert.equal(String(byType(sdp, 'video').payloads), '96 97');
      assert.deepEqual(byType(sdp, 'video').rtp.map((r) => r.codec), ['VP8', 'rtx']);
      assert.equal(String(byType(sdp, 'audio').payloads), '111');
    }
    assert.deepEqual(byType(forClient, 'video').ssrcGroups, byType(JANUS, 'video').ssrcGroups);
  });

  it('keeps only the header extensions both number alike, and never a mid extension across differently named sections', () => {
    const { forClient, forBackend } = bridgeOffers(PLAYER, JANUS);
    // abs-send-time is 2 on both sides; transport-cc is 4 in the player's offer and 3 in Janus's.
    assert.deepEqual(byType(forClient, 'video').ext?.map((e) => e.uri), ['http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time']);
    assert.deepEqual(byType(forBackend, 'video').ext, byType(forClient, 'video').ext);

    const swapped = bridgeOffers(audioFirst(PLAYER), JANUS);
    assert.deepEqual([...swapped.mids], [['1', '0'], ['0', '1']], 'the player\'s video (1) is Janus\'s 0, its audio (0) Janus\'s 1');
    for (const m of [...sections(swapped.forClient), ...sections(swapped.forBackend)]) {
      assert.ok(!(m.ext ?? []).some((e) => e.uri.endsWith('sdes:mid')), 'no mid extension: Janus would write its own mids');
    }
    assert.deepEqual(sections(swapped.forClient).map((m) => [String(m.mid), m.type]), [['0', 'audio'], ['1', 'video']], 'the player\'s own order and mids');
  });

  it('declines what it cannot send (a data channel, a second video) and bundles the rest', () => {
    const extra = `${PLAYER}m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=mid:2\r\na=sctp-port:5000\r\n`;
    const { forClient } = bridgeOffers(extra, JANUS);
    const all = sections(forClient);
    assert.equal(all.length, 3, 'one answer section per offered section');
    assert.equal(all[2]?.port, 0);
    assert.equal(String(parse(forClient).groups?.[0]?.mids), '0 1');
  });

  it('answers or refuses with its own error, never fails otherwise, whatever bytes a player sends', () => {
    // A seeded generator: the same inputs every run.
    let seed = 20261126;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const lines = PLAYER.split('\r\n');
    const junk = ['', 'm=', 'm=video', 'a=rtpmap:', 'a=rtpmap:96', 'a=fmtp:96 apt=', 'a=mid:', 'a=rtcp-fb:* nack', 'a=extmap:x y', 'a=candidate:1', 'a=fingerprint:', 'c=IN', '\u0000\uffff', 'a=ssrc-group:FID', 'm=video 0 RTP/AVP 0'];
    let answered = 0;
    for (let i = 0; i < 2000; i += 1) {
      const mutated = [...lines];
      for (let k = 0; k < 1 + rand(4); k += 1) {
        const at = rand(mutated.length);
        const op = rand(3);
        if (op === 0) mutated.splice(at, 1);
        else if (op === 1) mutated.splice(at, 0, junk[rand(junk.length)] ?? '');
        else mutated[at] = (mutated[at] ?? '').slice(0, rand((mutated[at] ?? '').length + 1));
      }
      try {
        const { forClient, forBackend } = bridgeOffers(mutated.join('\r\n'), JANUS);
        assert.equal(typeof forClient, 'string');
        assert.equal(typeof forBackend, 'string');
        answered += 1;
      } catch (err) {
        assert.ok(err instanceof SdpBridgeError, `offer ${i} failed with ${(err as Error).stack ?? String(err)}`);
      }
    }
    assert.ok(answered > 100, `most small changes still play (${answered} of 2000)`);
  });

  it('refuses, saying why, what cannot be played', () => {
    assert.throws(() => bridgeOffers('hello', JANUS), (e: unknown) => e instanceof SdpBridgeError && /not SDP/.test(e.message));
    // Firefox numbers VP8 120; Janus 1.1.2 writes 96 whatever the answer says: a case for the relay.
    assert.throws(() => bridgeOffers(PLAYER.replace(/\b96\b/g, '120'), JANUS), (e: unknown) => e instanceof SdpBridgeError && e.renumbered && /sent as VP8 as 96/.test(e.message));
    // A player that takes no VP8 at all: nothing can serve it.
    const noVp8 = PLAYER.replace(/a=rtpmap:96 VP8\/90000/, 'a=rtpmap:96 VP9/90000');
    assert.throws(() => bridgeOffers(noVp8, JANUS), (e: unknown) => e instanceof SdpBridgeError && !e.renumbered && /cannot receive this publisher's video/.test(e.message));
    const audioOnly = PLAYER.split(/(?=^m=)/m).filter((part) => !part.startsWith('m=video')).join('');
    assert.throws(() => bridgeOffers(audioOnly, JANUS), /cannot receive this publisher's video/);
    assert.throws(() => bridgeOffers(PLAYER.replace(/a=fingerprint:.*\r\n/g, ''), JANUS), /no DTLS fingerprint/);
  });
});
