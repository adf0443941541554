import { startBitrateKbps } from '../src/capture/start-bitrate.js';
import { launchBareChromium } from './bare-chromium.js';
import { median } from './median.js';

/**
 * What this machine charges for memory a process touches for the first time, in µs per 4 KiB
 * page (median of `runs` fresh 64 MiB buffers). On common hardware it is well under 1 µs; on
 * the VMs this project is measured on it has been 13-15 µs, and it is most of what starting
 * a browser or an encoder costs there: a figure to read the day's other figures against.
 */
export function firstTouchMicros(runs = 5): number {
  const pages = (64 << 20) / 4096;
  const each: number[] = [];
  for (let r = 0; r < runs; r += 1) {
    const started = process.hrtime.bigint();
    // A fresh allocation this large is mapped, not recycled: each page is faulted in by the write.
    const buffer = Buffer.alloc(pages * 4096);
    for (let i = 0; i < buffer.length; i += 4096) buffer[i] = 1;
    each.push(Number(process.hrtime.bigint() - started) / 1000 / pages);
  }
  return median(each);
}

/**
 * In a bare Chromium with our switches: from the answer applied to the first frame encoded, for
 * a canvas sent over a loopback peer connection at `width`x`height` (median of `runs`, a new
 * connection each). It is the VP8 encoder's set-up above all, which happens at a task's start
 * between its answer and its first frame, and grows with the picture.
 */
export async function encoderSetupMs(executablePath: string, width: number, height: number, runs = 3): Promise<number> {
  const { browser, close } = await launchBareChromium(executablePath, 'encoder');
  try {
    const page = await browser.newPage();
    const each: number[] = [];
    for (let r = 0; r < runs; r += 1) {
      each.push(await page.evaluate(async ([w, h, kbps]) => {
        const element = document.createElement('canvas');
        element.width = w;
        element.height = h;
        const ctx = element.getContext('2d');
        if (!ctx) throw new Error('no 2d context');
        let x = 0;
        const draw = setInterval(() => {
          x += 1;
          ctx.fillStyle = x % 2 ? '#204080' : '#802040';
          ctx.fillRect(0, 0, w, h);
        }, 33);
        const [track] = element.captureStream(15).getVideoTracks();
        if (!track) throw new Error('no track');
        const a = new RTCPeerConnection();
        const b = new RTCPeerConnection();
        a.onicecandidate = (e) => void (e.candidate && b.addIceCandidate(e.candidate));
        b.onicecandidate = (e) => void (e.candidate && a.addIceCandidate(e.candidate));
        a.addTransceiver(track, { direction: 'sendonly' });
        await a.setLocalDescription(await a.createOffer());
        await b.setRemoteDescription(a.localDescription as RTCSessionDescriptionInit);
        await b.setLocalDescription(await b.createAnswer());
        // Where a task's start puts the bandwidth estimate (start-bitrate.ts): at libwebrtc's
        // 300 kbps a big picture's first frames are dropped and the encoder set up again smaller.
        const sdp = (b.localDescription?.sdp ?? '').replace(/a=rtpmap:(\d+) VP8\/90000\r\n/, (line, pt: string) => `${line}a=fmtp:${pt} x-google-start-bitrate=${kbps}\r\n`);
        const t0 = performance.now();
        await a.setRemoteDescription({ type: 'answer', sdp });
        for (;;) {
          let encoded = 0;
          (await a.getStats()).forEach((s: { type: string; kind?: string; framesEncoded?: number }) => {
            if (s.type === 'outbound-rtp' && s.kind === 'video') encoded = s.framesEncoded ?? 0;
          });
          if (encoded > 0 || performance.now() - t0 > 10_000) break;
          await new Promise((r) => setTimeout(r, 5));
        }
        const ms = performance.now() - t0;
        clearInterval(draw);
        a.close();
        b.close();
        track.stop();
        return ms;
      }, [width, height, startBitrateKbps([{ width, height, maxBitrate: undefined }])] as const));
    }
    return median(each);
  } finally {
    await close();
  }
}
