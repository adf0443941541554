import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { viewerChromium } from './viewer-priority.js';
import type { RoomBackend, RoomRef, Subscription } from '../../src/rooms/room-backend.js';

/**
 * A real subscriber: its own headless Chromium receiving one publisher of a room over WebRTC,
 * and measuring what it decodes (size, frame rate, colour, the loudest audio frequency).
 */
export interface Received {
  width: number;
  height: number;
  fps: number;
  framesDecoded: number;
  /** The decoded colour at a point, as [r, g, b]. */
  pixel(x: number, y: number): Promise<[number, number, number]>;
}

const SUBSCRIBER_PAGE = `<!doctype html><title>subscriber</title><video id=v autoplay playsinline muted></video><script>
window.sub = {
  async answer(offer) {
    const pc = new RTCPeerConnection({ iceServers: [] });
    window.pc = pc;
    window.stream = new MediaStream();
    pc.ontrack = (e) => { window.stream.addTrack(e.track); document.getElementById('v').srcObject = window.stream; };
    await pc.setRemoteDescription({ type: 'offer', sdp: offer });
    await pc.setLocalDescription(await pc.createAnswer());
    await new Promise((r) => { if (pc.iceGatheringState === 'complete') r(); pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && r(); setTimeout(r, 3000); });
    return pc.localDescription.sdp;
  },
  async whep(url, token, renumberVp8) {
    // The player's own library, as its README uses it: https://www.npmjs.com/package/whip-whep
    const { WHEPClient } = await import('/whep.js');
    const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
    window.pc = pc;
    window.stream = new MediaStream();
    pc.ontrack = (e) => { window.stream.addTrack(e.track); document.getElementById('v').srcObject = window.stream; };
    pc.addTransceiver('audio');
    pc.addTransceiver('video');
    window.player = new WHEPClient();
    // As Firefox does, VP8 under a number Janus does not write (the library sets what it sent as the local offer).
    if (renumberVp8) window.player.onOffer = (sdp) => sdp.replace(/^(m=video [^\\r\\n]*? |a=(?:rtpmap|rtcp-fb|fmtp):)96\\b/gm, '$1124').replace(/apt=96\\b/g, 'apt=124');
    await window.player.view(pc, url, token);
    return window.player.resourceURL.href;
  },
  async video() {
    const stats = await window.pc.getStats();
    let out = { width: 0, height: 0, fps: 0, framesDecoded: 0, codec: '' };
    stats.forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'video') out = { width: s.frameWidth || 0, height: s.frameHeight || 0, fps: s.framesPerSecond || 0, framesDecoded: s.framesDecoded || 0, codec: (s.codecId && stats.get(s.codecId) && stats.get(s.codecId).mimeType) || '' }; });
    return out;
  },
  blocks(x0, y0, x1, y1, n) {
    const v = document.getElementById('v');
    const c = document.createElement('canvas'); c.width = v.videoWidth; c.height = v.videoHeight;
    const g = c.getContext('2d'); g.drawImage(v, 0, 0);
    const px = (f, size) => Math.round(f * size);
    const d = g.getImageData(px(x0, c.width), px(y0, c.height), px(x1, c.width) - px(x0, c.width), px(y1, c.height) - px(y0, c.height));
    const out = [];
    for (let by = 0; by < n; by++) for (let bx = 0; bx < n; bx++) {
      let r = 0, gg = 0, b = 0, k = 0;
      for (let y = Math.floor(by * d.height / n); y < Math.floor((by + 1) * d.height / n); y++) for (let x = Math.floor(bx * d.width / n); x < Math.floor((bx + 1) * d.width / n); x++) {
        const i = (y * d.width + x) * 4; r += d.data[i]; gg += d.data[i + 1]; b += d.data[i + 2]; k++;
      }
      out.push([r / k, gg / k, b / k]);
    }
    return out;
  },
  pixel(x, y) {
    const v = document.getElementById('v');
    const c = document.createElement('canvas'); c.width = v.videoWidth; c.height = v.videoHeight;
    const g = c.getContext('2d'); g.drawImage(v, 0, 0);
    return [...g.getImageData(Math.round(x * c.width), Math.round(y * c.height), 1, 1).data.slice(0, 3)];
  },
  async record(ms) {
    const rec = new MediaRecorder(window.stream, { mimeType: 'video/webm;codecs=vp8,opus' });
    const chunks = [];
    rec.ondataavailable = (e) => chunks.push(e.data);
    const done = new Promise((r) => (rec.onstop = r));
    rec.start(1000);
    await new Promise((r) => setTimeout(r, ms));
    rec.stop(); await done;
    const buf = new Uint8Array(await new Blob(chunks).arrayBuffer());
    let bin = ''; for (let i = 0; i < buf.length; i += 0x8000) bin += String.fromCharCode(...buf.subarray(i, i + 0x8000));
    return btoa(bin);
  },
  async loudestFrequency(ms) {
    const ctx = new AudioContext();
    const src = ctx.createMediaStreamSource(new MediaStream(window.stream.getAudioTracks()));
    const an = ctx.createAnalyser(); an.fftSize = 8192; src.connect(an);
    const bins = new Float32Array(an.frequencyBinCount), sum = new Float32Array(an.frequencyBinCount);
    const end = Date.now() + ms;
    while (Date.now() < end) { await new Promise((r) => setTimeout(r, 100)); an.getFloatFrequencyData(bins); for (let i = 0; i < bins.length; i++) sum[i] += Math.pow(10, bins[i] / 20); }
    let best = 1; for (let i = 2; i < sum.length; i++) if (sum[i] > sum[best]) best = i;
    const total = sum.reduce((a, b) => a + b, 0);
    await ctx.close();
    return { hz: best * ctx.sampleRate / an.fftSize, share: sum[best] / (total || 1) };
  },
};
</script>`;

export interface VideoReceived {
  width: number;
  height: number;
  fps: number;
  framesDecoded: number;
  /** e.g. video/VP8 */
  codec: string;
}

export interface ReadyViewer {
  browser: Browser;
  page: Page;
}

/** An offer with VP8 as 124 rather than Chromium's 96, as players other than libwebrtc's number it (the same rule as the page's). */
export const renumberVp8 = (sdp: string): string => sdp.replace(/^(m=video [^\r\n]*? |a=(?:rtpmap|rtcp-fb|fmtp):)96\b/gm, '$1124').replace(/apt=96\b/g, 'apt=124');

/** What a viewer's page decodes, whichever way it joined the room. */
export class PageViewer {
  protected constructor(
    protected readonly browser: Browser,
    protected readonly page: Page,
  ) {}

  /**
   * Watches the decoded frame count until it stops growing for `quietMs` (the stream ended)
   * and returns when it last grew (Date.now()); at `timeoutMs` it returns that moment too.
   */
  async lastFrameAt(timeoutMs: number, quietMs = 1500): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    let frames = (await this.video()).framesDecoded;
    let grewAt = Date.now();
    while (Date.now() < deadline && Date.now() - grewAt < quietMs) {
      await new Promise((r) => setTimeout(r, 50));
      const now = (await this.video()).framesDecoded;
      if (now > frames) {
        frames = now;
        grewAt = Date.now();
      }
    }
    return grewAt;
  }

  async video(): Promise<VideoReceived> {
    return this.page.evaluate(() => (window as unknown as SubWindow).sub.video());
  }

  /** Waits until frames of the given size arrive, and returns the stats then. */
  async waitForVideo(check: (v: VideoReceived) => boolean, timeoutMs = 15_000) {
    const deadline = Date.now() + timeoutMs;
    let v = await this.video();
    while (!check(v) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      v = await this.video();
    }
    return v;
  }

  /** Frames decoded over a span, divided by the span: the frame rate actually received. */
  async measuredFps(ms: number): Promise<number> {
    const a = await this.video();
    const t0 = Date.now();
    await new Promise((r) => setTimeout(r, ms));
    const b = await this.video();
    return ((b.framesDecoded - a.framesDecoded) * 1000) / (Date.now() - t0);
  }

  /** The region's mean colours in an n×n grid, row by row; coordinates are fractions of the picture. */
  blocks(x0: number, y0: number, x1: number, y1: number, n: number): Promise<[number, number, number][]> {
    return this.page.evaluate(([a, b, c, d, k]) => (window as unknown as SubWindow).sub.blocks(a, b, c, d, k), [x0, y0, x1, y1, n] as const) as Promise<[number, number, number][]>;
  }

  pixel(x: number, y: number): Promise<[number, number, number]> {
    return this.page.evaluate(([px, py]) => (window as unknown as SubWindow).sub.pixel(px, py), [x, y] as const) as Promise<[number, number, number]>;
  }

  loudestFrequency(ms: number): Promise<{ hz: number; share: number }> {
    return this.page.evaluate((d) => (window as unknown as SubWindow).sub.loudestFrequency(d), ms);
  }

  /** What the subscriber receives, recorded by MediaRecorder as WebM (VP8 + Opus). */
  async record(ms: number): Promise<Buffer> {
    return Buffer.from(await this.page.evaluate((d) => (window as unknown as SubWindow).sub.record(d), ms), 'base64');
  }

}

/**
 * What a viewer's browser needs none of: the omnibox popup Chromium preloads at start, a WebUI
 * renderer of its own (a viewer launch took about 1.5 s of CPU less without it, 4 launches each).
 * One list: of two --disable-features switches Chromium keeps the last.
 */
export function viewerFeaturesOff(...more: string[]): string {
  return `--disable-features=${['WebUIOmniboxPopup', 'WebUIOmniboxAimPopup', 'PreloadTopChromeWebUI', ...more].join(',')}`;
}

const VIEWER_ARGS = ['--no-sandbox', '--disable-gpu', '--allow-loopback-in-peer-connection', '--autoplay-policy=no-user-gesture-required', '--disable-background-networking'];

export class Subscriber extends PageViewer {
  private constructor(
    browser: Browser,
    page: Page,
    private readonly subscription: Subscription,
  ) {
    super(browser, page);
  }

  /** A viewer's browser, launched and ready to subscribe: what a person already in the room has. */
  static async ready(): Promise<ReadyViewer> {
    const browser = await chromium.launch({
      executablePath: viewerChromium(),
      args: [...VIEWER_ARGS, viewerFeaturesOff('WebRtcHideLocalIpsWithMdns')],
      ignoreDefaultArgs: ['--mute-audio'],
    });
    try {
      const page = await browser.newPage();
      await page.route('https://subscriber.test/**', (r) => r.fulfill({ contentType: 'text/html', body: SUBSCRIBER_PAGE }));
      await page.goto('https://subscriber.test/');
      return { browser, page };
    } catch (err) {
      await browser.close();
      throw err;
    }
  }

  static async join(rooms: RoomBackend, room: RoomRef, userId: string, layer?: number, viewer?: ReadyViewer): Promise<Subscriber> {
    const { browser, page } = viewer ?? (await Subscriber.ready());
    try {
      const subscription = await rooms.subscribe(room, userId, layer);
      const answer = await page.evaluate((offer) => (window as unknown as SubWindow).sub.answer(offer), subscription.offerSdp);
      await subscription.start(answer);
      return new Subscriber(browser, page, subscription);
    } catch (err) {
      // Nobody publishes yet, say: the browser must not outlive the attempt.
      await browser.close();
      throw err;
    }
  }

  setLayer(layer: number): Promise<void> {
    return this.subscription.setLayer(layer);
  }

  async leave(): Promise<void> {
    try {
      await this.subscription.close();
    } finally {
      await this.browser.close();
    }
  }
}

/**
 * A WHEP player: whip-whep's WHEPClient (a library we did not write) in its own Chromium,
 * on a page of another origin than the node's, as a customer's player page would be.
 */
export class WhepPlayer extends PageViewer {
  private constructor(
    browser: Browser,
    page: Page,
    private readonly server: http.Server,
    /** The session's resource, as the endpoint's Location named it. */
    readonly resource: string,
  ) {
    super(browser, page);
  }

  /** `renumberVp8`: offer VP8 as 124 rather than Chromium's 96, as players other than libwebrtc's number it. */
  static async play(url: string, token: string | undefined, renumberVp8 = false): Promise<WhepPlayer> {
    const library = readFileSync(fileURLToPath(import.meta.resolve('whip-whep/whep.js')), 'utf8');
    const server = http.createServer((req, res) => {
      if (req.url === '/whep.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(library);
      else res.writeHead(200, { 'content-type': 'text/html' }).end(SUBSCRIBER_PAGE);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    // mDNS names hide the player's addresses as in any browser: Janus learns them from the checks.
    const browser = await chromium.launch({ executablePath: viewerChromium(), args: [...VIEWER_ARGS, viewerFeaturesOff()], ignoreDefaultArgs: ['--mute-audio'] });
    try {
      const page = await browser.newPage();
      await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
      const resource = await page.evaluate(([u, t, r]) => (window as unknown as SubWindow).sub.whep(u, t, r), [url, token, renumberVp8] as const);
      return new WhepPlayer(browser, page, server, resource);
    } catch (err) {
      await browser.close();
      server.close();
      throw err;
    }
  }

  /** The library's layer switch (the endpoint's urn:ietf:params:whep:ext:core:layer link). */
  selectLayer(encodingId: string): Promise<void> {
    return this.page.evaluate((id) => (window as unknown as PlayerWindow).player.selectLayer({ encodingId: id }), encodingId);
  }

  /** The library's stop: closes the connection and DELETEs the session. */
  async stop(): Promise<void> {
    try {
      await this.page.evaluate(() => (window as unknown as PlayerWindow).player.stop());
    } finally {
      await this.browser.close();
      this.server.close();
    }
  }

  async close(): Promise<void> {
    await this.browser.close();
    this.server.close();
  }
}

interface PlayerWindow {
  player: { selectLayer(layer: unknown): Promise<void>; stop(): Promise<void> };
}

interface SubWindow {
  sub: {
    answer(offer: string): Promise<string>;
    whep(url: string, token: string | undefined, renumberVp8: boolean): Promise<string>;
    video(): Promise<VideoReceived>;
    pixel(x: number, y: number): number[];
    blocks(x0: number, y0: number, x1: number, y1: number, n: number): number[][];
    loudestFrequency(ms: number): Promise<{ hz: number; share: number }>;
    record(ms: number): Promise<string>;
  };
}
