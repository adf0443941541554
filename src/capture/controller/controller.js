// The capture controller: a page of ours, in the task's own browser context, beside the page
// being webcast. It captures that page's tab (chosen by Chromium by its title at the moment of
// capture) and publishes it. Living in another document, it survives every navigation and
// refresh of the captured page. Driven from Node through window.webcast.
'use strict';

const state = { stream: undefined, pc: undefined };

async function capture({ width, height, frameRate }) {
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
  return { video: video.getSettings(), audio: stream.getAudioTracks().map((t) => t.label) };
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

/** layers: the big layer first; each { rid, scaleResolutionDownBy, maxFramerate, maxBitrate? } */
async function offer({ layers, codec, contentHint }) {
  if (!state.stream) throw new Error('nothing captured yet');
  const pc = new RTCPeerConnection({ iceServers: [], bundlePolicy: 'max-bundle' });
  state.pc = pc;
  const [video] = state.stream.getVideoTracks();
  if (contentHint) video.contentHint = contentHint;
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

async function answer(sdp) {
  await state.pc.setRemoteDescription({ type: 'answer', sdp });
}

async function stats() {
  const out = { state: state.pc?.connectionState ?? 'new', video: [], audio: undefined };
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

/** The current captured frame, scaled down to width x height, as RGB bytes. */
async function sample(width, height) {
  const [video] = state.stream?.getVideoTracks() ?? [];
  if (!video) throw new Error('nothing captured');
  const bitmap = await new ImageCapture(video).grabFrame();
  const canvas = new OffscreenCanvas(width, height);
  const g = canvas.getContext('2d');
  g.drawImage(bitmap, 0, 0, width, height);
  bitmap.close();
  const rgba = g.getImageData(0, 0, width, height).data;
  const rgb = [];
  for (let i = 0; i < rgba.length; i += 4) rgb.push(rgba[i], rgba[i + 1], rgba[i + 2]);
  return rgb;
}

/** The current captured frame as a JPEG data URL, `width` wide. */
async function thumbnail(width) {
  const [video] = state.stream?.getVideoTracks() ?? [];
  if (!video) throw new Error('nothing captured');
  const bitmap = await new ImageCapture(video).grabFrame();
  const height = Math.max(1, Math.round((bitmap.height * width) / bitmap.width));
  const canvas = new OffscreenCanvas(width, height);
  canvas.getContext('2d').drawImage(bitmap, 0, 0, width, height);
  bitmap.close();
  const blob = await canvas.convertToBlob({ type: 'image/jpeg', quality: 0.8 });
  const bytes = new Uint8Array(await blob.arrayBuffer());
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

window.webcast = { capture, offer, answer, stats, sample, thumbnail };
