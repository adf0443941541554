// The capture controller: a page of ours, in the task's own browser context, beside the page
// being webcast. It captures that page's tab (chosen by Chromium by its title at the moment of
// capture) and publishes it. Living in another document, it survives every navigation and
// refresh of the captured page. Driven from Node through window.webcast.
'use strict';

// stillAsks: how often the page stood still long enough to be asked for its picture (`delayed`).
const state = { stream: undefined, pc: undefined, send: undefined, stillAsks: 0 };

async function capture({ width, height, frameRate, videoDelayMs }) {
  // The warm pool captured at the default size; a task of another size is captured afresh.
  state.stream?.getTracks().forEach((t) => t.stop());
  state.send?.stop();
  const stream = await navigator.mediaDevices.getDisplayMedia({
    video: { width: { max: width }, height: { max: height }, frameRate: { max: frameRate } },
    // Music and speech from pages must pass unprocessed.
    audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },
    preferCurrentTab: false,
    selfBrowserSurface: 'exclude',
    surfaceSwitching: 'exclude',
    systemAudio: 'exclude',
  });
  state.stream = stream;
  const [video] = stream.getVideoTracks();
  // Taken from the start: a still page's only frames come now, before anything is sent.
  state.send = videoDelayMs > 0 ? delayed(video, videoDelayMs) : video;
  return { video: video.getSettings(), audio: stream.getAudioTracks().map((t) => t.label) };
}

/**
 * A task of the captured size or smaller, or of another frame rate: the capture is held to its
 * size and rate instead of started afresh (its window is fitted to the size first).
 */
async function retune({ width, height, frameRate }) {
  const [video] = state.stream.getVideoTracks();
  await video.applyConstraints({ width: { max: width }, height: { max: height }, frameRate: { max: frameRate } });
}

function preferCodec(transceiver, mimeType) {
  const codecs = RTCRtpSender.getCapabilities('video').codecs;
  const chosen = codecs.filter((c) => c.mimeType.toLowerCase() === mimeType.toLowerCase());
  if (chosen.length === 0) throw new Error(`this Chromium cannot send ${mimeType}`);
  const rest = codecs.filter((c) => /rtx|red|ulpfec/i.test(c.mimeType));
  transceiver.setCodecPreferences([...chosen, ...rest]);
}

function waitIceComplete(pc, timeoutMs) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (pc.iceGatheringState === 'complete') resolve();
    };
    pc.addEventListener('icegatheringstatechange', done);
    setTimeout(resolve, timeoutMs);
  });
}

/** A still page sends no frames; a viewer that joins then still needs one to start from. */
const STILL_REFRESH_MS = 250;

/**
 * The captured video, each frame passed on `delayMs` later. Chromium delivers a tab's audio
 * to WebRTC later than its picture, and WebRTC stamps both as they arrive, so a viewer would
 * hear the page late; holding the picture by that much lines the two up again.
 * A generated track does not pass WebRTC's requests for a fresh frame back to the capture
 * (nor does the capture always send one after a navigation), so while the page is still, the
 * capture is asked for its current picture every STILL_REFRESH_MS.
 */
function delayed(track, delayMs) {
  const processor = new MediaStreamTrackProcessor({ track });
  const generator = new MediaStreamTrackGenerator({ kind: 'video' });
  // To WebRTC a tab capture is a screencast and a generated track is not; 'detail' makes it one
  // again, so VP8 encodes in its screen-content mode (0.76 vs 0.88 cores at 1080p30).
  generator.contentHint = 'detail';
  let lastIn = performance.now();
  let asked = 0;
  const still = setInterval(() => {
    const now = performance.now();
    // Nobody to send to yet (a warm browser waiting for its task): nothing to refresh.
    if (!state.pc || now - Math.max(lastIn, asked) < STILL_REFRESH_MS || track.readyState !== 'live') return;
    asked = now;
    state.stillAsks += 1;
    // The grabbed picture itself is not wanted: asking makes the capture send a frame to every consumer.
    new ImageCapture(track).grabFrame().then((bitmap) => bitmap.close(), () => undefined);
  }, STILL_REFRESH_MS / 2);
  processor.readable
    .pipeThrough(
      new TransformStream({
        transform(frame, controller) {
          lastIn = performance.now();
          // Not awaited: frames keep their pace and order, each merely later.
          setTimeout(() => {
            try {
              controller.enqueue(frame);
            } catch {
              frame.close();
            }
          }, delayMs);
        },
      }),
    )
    .pipeTo(generator.writable)
    .catch(() => undefined)
    .finally(() => clearInterval(still));
  return generator;
}

/** layers: the big layer first; each { rid, scaleResolutionDownBy, maxFramerate, maxBitrate? } */
async function offer({ layers, codec }) {
  if (!state.stream) throw new Error('nothing captured yet');
  const pc = new RTCPeerConnection({ iceServers: [], bundlePolicy: 'max-bundle' });
  state.pc = pc;
  const video = state.send;
  const sendEncodings = layers.map((l) => ({
    ...(layers.length > 1 ? { rid: l.rid } : {}),
    scaleResolutionDownBy: l.scaleResolutionDownBy,
    maxFramerate: l.maxFramerate,
    ...(l.maxBitrate ? { maxBitrate: l.maxBitrate } : {}),
  }));
  const vt = pc.addTransceiver(video, { direction: 'sendonly', streams: [state.stream], sendEncodings });
  preferCodec(vt, codec);
  const [audio] = state.stream.getAudioTracks();
  if (audio) pc.addTransceiver(audio, { direction: 'sendonly', streams: [state.stream] });
  const description = await pc.createOffer();
  // Stereo Opus, as music pages want it.
  description.sdp = description.sdp.replace(/(a=fmtp:\d+ .*useinbandfec=1)/, '$1;stereo=1;sprop-stereo=1');
  await pc.setLocalDescription(description);
  await waitIceComplete(pc, 3000);
  return pc.localDescription.sdp;
}

/** Applies the room's answer; what the browser says of an answer it cannot use is returned, not thrown (it is the room's fault, not ours). */
async function answer(sdp) {
  try {
    await state.pc.setRemoteDescription({ type: 'answer', sdp });
  } catch (err) {
    return { refused: String(err?.message ?? err) };
  }
  // A captured tab keeps its size when the machine is busy (WebRTC drops frames instead), as a
  // tab capture track does by itself; the held-back track of `delayed` must be told so.
  const sender = state.pc.getSenders().find((s) => s.track?.kind === 'video');
  if (sender) {
    const parameters = sender.getParameters();
    parameters.degradationPreference = 'maintain-resolution';
    await sender.setParameters(parameters);
  }
  return {};
}

async function stats() {
  const out = { state: state.pc?.connectionState ?? 'new', video: [], audio: undefined, stillAsks: state.stillAsks };
  if (!state.pc) return out;
  const report = await state.pc.getStats();
  report.forEach((s) => {
    if (s.type !== 'outbound-rtp') return;
    if (s.kind === 'video') {
      out.video.push({
        rid: s.rid ?? '',
        framesSent: s.framesSent ?? 0,
        framesEncoded: s.framesEncoded ?? 0,
        width: s.frameWidth ?? 0,
        height: s.frameHeight ?? 0,
        fps: s.framesPerSecond ?? 0,
        bytesSent: s.bytesSent ?? 0,
        encoder: s.encoderImplementation ?? '',
        limitation: s.qualityLimitationReason ?? '',
      });
    } else if (s.kind === 'audio') {
      out.audio = { packetsSent: s.packetsSent ?? 0, bytesSent: s.bytesSent ?? 0 };
    }
  });
  return out;
}

/** The current captured frame drawn on a canvas `width` wide and `height` high (default: its aspect kept). */
async function grab(width, height) {
  const [video] = state.stream?.getVideoTracks() ?? [];
  if (!video) throw new Error('nothing captured');
  // One ImageCapture per grab: the monitors and the still-page refresh may grab at once.
  const bitmap = await new ImageCapture(video).grabFrame();
  const h = height ?? Math.max(1, Math.round((bitmap.height * width) / bitmap.width));
  const canvas = new OffscreenCanvas(width, h);
  canvas.getContext('2d').drawImage(bitmap, 0, 0, width, h);
  bitmap.close();
  return canvas;
}

/** The current captured frame, scaled down to width x height, as RGB bytes. */
async function sample(width, height) {
  const canvas = await grab(width, height);
  const rgba = canvas.getContext('2d').getImageData(0, 0, width, height).data;
  const rgb = [];
  for (let i = 0; i < rgba.length; i += 4) rgb.push(rgba[i], rgba[i + 1], rgba[i + 2]);
  return rgb;
}

/** The current captured frame as a base64 JPEG, `width` wide. */
async function thumbnail(width) {
  const blob = await (await grab(width)).convertToBlob({ type: 'image/jpeg', quality: 0.8 });
  const bytes = new Uint8Array(await blob.arrayBuffer());
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

window.webcast = { capture, retune, offer, answer, stats, sample, thumbnail };
