import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PAGE_COLOR } from './pages.js';

/**
 * Pages that attack the node they run on, each reporting what it tried and got to /report on
 * the same server, so that a test can tell an attack that failed from one that never ran.
 */

const reporter = (page: string) => `
const report = (what) => fetch('/report?' + new URLSearchParams({ page: ${JSON.stringify(page)}, what }), { method: 'POST', keepalive: true }).catch(() => {});`;

/** One capture request in `realm`; reports tried / refused / pending / GOT. */
const attemptScript = `
function attempt(label, realm, mediaDevices) {
  report('tried ' + label);
  const pending = setTimeout(() => report('pending ' + label), 4000);
  const options = { video: true, audio: true, preferCurrentTab: true, selfBrowserSurface: 'include', surfaceSwitching: 'include' };
  let call;
  try { call = realm.MediaDevices.prototype.getDisplayMedia.call(mediaDevices, options); }
  catch (e) { clearTimeout(pending); report('refused ' + label + ' ' + e.name); return; }
  call.then((s) => { clearTimeout(pending); report('GOT ' + label + ' ' + s.getVideoTracks()[0].label + ' ' + JSON.stringify(s.getVideoTracks()[0].getSettings())); },
            (e) => { clearTimeout(pending); report('refused ' + label + ' ' + e.name); });
}`;

/** Asks for a capture through every path a page has, again and again, across a reload and a navigation. */
const thiefPage = `<!doctype html><title>thief</title><body style="margin:0;background:#222"><script>
${reporter('thief')}
${attemptScript}
const loads = Number(sessionStorage.getItem('loads') || 0) + 1; sessionStorage.setItem('loads', String(loads));
function everyPath(round) {
  attempt('prototype/' + loads + '/' + round, window, navigator.mediaDevices);
  if (navigator.mediaDevices.getDisplayMedia) {
    navigator.mediaDevices.getDisplayMedia({ video: true }).then(() => report('GOT instance'), (e) => report('refused instance ' + e.name));
  }
  const frame = document.createElement('iframe');
  frame.src = 'about:blank';
  document.body.append(frame);
  attempt('iframe/' + loads + '/' + round, frame.contentWindow, frame.contentWindow.navigator.mediaDevices);
  const popup = window.open('/blank', 'p' + round);
  if (popup) popup.addEventListener('load', () => attempt('popup/' + loads + '/' + round, popup, popup.navigator.mediaDevices));
  else report('no popup');
}
let round = 0;
everyPath(round);
// Keep calls pending all along, so that one is waiting whenever another task starts.
setInterval(() => everyPath(++round), 2000);
if (loads === 1) setTimeout(() => location.reload(), 5000);
if (loads === 2) setTimeout(() => { location.href = '/thief?navigated'; }, 5000);
</script></body>`;

/**
 * Asks only once clicked: a click is a user gesture, which getDisplayMedia's activation check
 * and the popup blocker both yield to. (A pending request blocks a tab's input, so this thief
 * asks nothing before.)
 */
const gestureThiefPage = `<!doctype html><title>gesture</title><body style="margin:0;background:#222"><script>
${reporter('gesture')}
${attemptScript}
document.addEventListener('click', () => {
  attempt('gesture', window, navigator.mediaDevices);
  const popup = window.open('/blank', 'gesture');
  if (!popup) return report('no popup after a gesture');
  report('popup opened');
  popup.addEventListener('load', () => attempt('popup-gesture', popup, popup.navigator.mediaDevices));
});
report('ready');
</script></body>`;

/** Allocates and touches memory without end. */
const memoryHogPage = `<!doctype html><title>memory</title><body style="background:#400"><script>
const keep = [];
setInterval(() => { const b = new Uint8Array(32 << 20); for (let i = 0; i < b.length; i += 4096) b[i] = 1; keep.push(b); }, 20);
</script></body>`;

/** Spins a thread of each kind a page has: its main thread, dedicated workers, a worker's own worker. */
const spinEverything = (what: string) => `${reporter('cpu')}
const src = URL.createObjectURL(new Blob(['for (;;) {}'], { type: 'text/javascript' }));
for (let i = 0; i < 4; i++) new Worker(src);
const nester = new Worker(URL.createObjectURL(new Blob(['onmessage = (e) => { new Worker(e.data); for (;;) {} }'], { type: 'text/javascript' })));
nester.postMessage(src);
report('${what}');
(function spin() { const end = performance.now() + 14; while (performance.now() < end) {} requestAnimationFrame(spin); })();`;

/**
 * Spins every core it can get, in two processes: its own, and a cross-site frame's (another
 * site is another renderer process), each with its workers and a worker's worker.
 */
const cpuHogPage = (frameOrigin: string) => `<!doctype html><title>cpu</title><body style="background:#440">
<iframe src="${frameOrigin}/cpu-frame" width="160" height="90"></iframe><script>
${spinEverything('spinning')}
</script></body>`;
const cpuHogFrame = `<!doctype html><title>cpu frame</title><body style="background:#044"><script>
${spinEverything('frame spinning')}
</script></body>`;

/** Tries every way to put bytes on the node's disk: downloads, and the storage APIs. */
const diskPage = `<!doctype html><title>disk</title><body style="background:#044"><script>
${reporter('disk')}
const big = (mb) => { const b = new Uint8Array(mb << 20); crypto.getRandomValues(b.subarray(0, 65536)); for (let i = 65536; i < b.length; i += 65536) b.set(b.subarray(0, 65536), i); return b; };
function download(href, name) { const a = document.createElement('a'); a.href = href; a.download = name; document.body.append(a); a.click(); }
(async () => {
  for (let i = 0; i < 10; i++) {
    download(URL.createObjectURL(new Blob([big(8)])), 'blob-' + i + '.bin');
    download('/attachment?n=' + i, '');
  }
  download('data:application/octet-stream;base64,' + btoa('x'.repeat(1 << 20)), 'data.bin');
  report('downloads asked');
  const written = [];
  try {
    const db = await new Promise((ok, no) => { const r = indexedDB.open('fill', 1); r.onupgradeneeded = () => r.result.createObjectStore('s'); r.onsuccess = () => ok(r.result); r.onerror = () => no(r.error); });
    for (let i = 0; i < 8; i++) await new Promise((ok, no) => { const tx = db.transaction('s', 'readwrite'); tx.objectStore('s').put(new Blob([big(8)]), i); tx.oncomplete = ok; tx.onerror = () => no(tx.error); });
    written.push('indexeddb');
  } catch (e) { report('indexeddb ' + e.name); }
  try {
    const cache = await caches.open('fill');
    for (let i = 0; i < 4; i++) await cache.put('/c' + i, new Response(new Blob([big(8)])));
    written.push('cache');
  } catch (e) { report('cache ' + e.name); }
  try {
    const root = await navigator.storage.getDirectory();
    for (let i = 0; i < 4; i++) { const w = await (await root.getFileHandle('f' + i, { create: true })).createWritable(); await w.write(big(8)); await w.close(); }
    written.push('opfs');
  } catch (e) { report('opfs ' + e.name); }
  report('stored ' + written.join(','));
})();
</script></body>`;

/**
 * Opens WebRTC towards the targets (?udp=host:port,…&tcp=host:port,…) with no signalling
 * server: as STUN and TURN servers, and as remote candidates it makes up, in `rounds` rounds of
 * 2.5 s (6). Reports its own candidates, and `done <id>` at the end.
 */
const webrtcPage = `<!doctype html><title>webrtc</title><body style="background:#404"><script>
${reporter('webrtc')}
const q = new URLSearchParams(location.search);
const udp = (q.get('udp') || '').split(',').filter(Boolean);
const tcp = (q.get('tcp') || '').split(',').filter(Boolean);
const iceServers = [
  ...udp.map((t) => ({ urls: 'stun:' + t })),
  ...udp.map((t) => ({ urls: 'turn:' + t + '?transport=udp', username: 'u', credential: 'p' })),
  ...tcp.map((t) => ({ urls: 'turn:' + t + '?transport=tcp', username: 'u', credential: 'p' })),
];
(async () => {
  for (let round = 0; round < Number(q.get('rounds') || 6); round++) {
    const a = new RTCPeerConnection({ iceServers });
    const b = new RTCPeerConnection();
    a.createDataChannel('x');
    a.onicecandidate = (e) => { if (e.candidate && e.candidate.candidate) report('candidate ' + e.candidate.candidate); };
    await a.setLocalDescription(await a.createOffer());
    await b.setRemoteDescription(a.localDescription);
    await b.setLocalDescription(await b.createAnswer());
    await a.setRemoteDescription(b.localDescription);
    let n = 0;
    const candidate = (proto, t) => { const [host, port] = t.split(/:(?=[^:]+$)/); return 'candidate:' + (++n) + ' 1 ' + proto + ' 2122260223 ' + host.replace(/^\\[|\\]$/g, '') + ' ' + port + ' typ host' + (proto === 'tcp' ? ' tcptype passive' : ''); };
    for (const t of udp) await a.addIceCandidate({ candidate: candidate('udp', t), sdpMid: '0' }).catch((e) => report('addIceCandidate ' + e.name));
    for (const t of tcp) await a.addIceCandidate({ candidate: candidate('tcp', t), sdpMid: '0' }).catch((e) => report('addIceCandidate ' + e.name));
    report('round ' + round);
    await new Promise((r) => setTimeout(r, 2500));
    a.close(); b.close();
  }
  report('done ' + (q.get('id') || ''));
})();
</script></body>`;

/**
 * A customer's page that plays a live WebRTC stream from a server of its own: it takes the
 * server's offer from /signal/offer and posts its answer to /signal/answer.
 */
const webrtcViewerPage = `<!doctype html><title>viewer</title><style>html,body{margin:0;height:100%;background:#000;overflow:hidden}video{width:100%;height:100%;object-fit:fill}</style>
<body><video autoplay muted playsinline></video><script>
${reporter('viewer')}
(async () => {
  const offer = await (await fetch('/signal/offer')).text();
  const pc = new RTCPeerConnection();
  pc.ontrack = (e) => { document.querySelector('video').srcObject = e.streams[0] || new MediaStream([e.track]); report('track'); };
  pc.onconnectionstatechange = () => report('connection ' + pc.connectionState);
  await pc.setRemoteDescription({ type: 'offer', sdp: offer });
  await pc.setLocalDescription(await pc.createAnswer());
  await new Promise((r) => { pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && r(); setTimeout(r, 2000); });
  await fetch('/signal/answer', { method: 'POST', body: pc.localDescription.sdp });
})();
</script></body>`;

/** The benign task: a moving, sounding page that reports every change of its own size. */
const steadyPage = `<!doctype html><html><head><meta charset="utf-8"><title>steady</title>
<style>html,body{margin:0;height:100%;background:rgb(${PAGE_COLOR.join(',')});overflow:hidden}#m{position:absolute;top:20px;left:0;width:60px;height:60px;background:#fff}</style></head>
<body><div id="m"></div><script>
${reporter('steady')}
const m = document.getElementById('m'); let x = 0;
(function step() { x = (x + 7) % (innerWidth / 2); m.style.transform = 'translateX(' + x + 'px)'; requestAnimationFrame(step); })();
report('size ' + innerWidth + 'x' + innerHeight);
addEventListener('resize', () => report('resize ' + innerWidth + 'x' + innerHeight));
</script></body></html>`;

export interface Report {
  page: string;
  what: string;
}

export interface HostileServer {
  url: string;
  /** The same pages on a second address: another site, so another renderer process. */
  otherUrl: string;
  reports: Report[];
  /** The SDP exchange of the WebRTC viewer page. */
  signal: { offer?: string; answer?: string };
  /** What `page` reported so far. */
  from(page: string): string[];
  close(): Promise<void>;
}

/** Serves the pages on `host` and `otherHost` (loopback addresses the node's allowlist opens). */
export async function startHostileServer(host: string, otherHost: string): Promise<HostileServer> {
  const reports: Report[] = [];
  const signal: HostileServer['signal'] = {};
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const html = (body: string) => res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(body);
    switch (url.pathname) {
      case '/report':
        reports.push({ page: url.searchParams.get('page') ?? '', what: url.searchParams.get('what') ?? '' });
        return res.writeHead(204).end();
      case '/thief':
        return html(thiefPage);
      case '/gesture-thief':
        return html(gestureThiefPage);
      case '/blank':
        return html('<!doctype html><title>blank</title>');
      case '/memory':
        return html(memoryHogPage);
      case '/cpu':
        return html(cpuHogPage(otherUrl));
      case '/cpu-frame':
        return html(cpuHogFrame);
      case '/disk':
        return html(diskPage);
      case '/attachment':
        return res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-disposition': 'attachment; filename="payload.bin"' }).end(Buffer.alloc(4 << 20, 7));
      case '/webrtc':
        return html(webrtcPage);
      case '/steady':
        return html(steadyPage);
      case '/webrtc-viewer':
        return html(webrtcViewerPage);
      case '/signal/offer':
        return signal.offer ? res.writeHead(200, { 'content-type': 'application/sdp' }).end(signal.offer) : res.writeHead(404).end();
      case '/signal/answer': {
        let body = '';
        req.on('data', (d: Buffer) => (body += d.toString()));
        req.on('end', () => {
          signal.answer = body;
          res.writeHead(204).end();
        });
        return;
      }
      default:
        return res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  const { port } = server.address() as AddressInfo;
  const other = http.createServer((req, res) => server.emit('request', req, res));
  await new Promise<void>((r) => other.listen(port, otherHost, r));
  const otherUrl = `http://${otherHost}:${port}`;
  return {
    url: `http://${host}:${port}`,
    otherUrl,
    reports,
    signal,
    from: (page) => reports.filter((r) => r.page === page).map((r) => r.what),
    close: async () => {
      for (const s of [server, other]) {
        s.closeAllConnections();
        await new Promise((r) => s.close(r));
      }
    },
  };
}
