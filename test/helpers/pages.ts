import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** Pages with known content for the engine tests, served on loopback. */
export const PAGE_COLOR: [number, number, number] = [30, 120, 200];
export const SECOND_COLOR: [number, number, number] = [40, 170, 60];
export const TONE_HZ = 440;
/** A decoded colour within `tolerance` of the expected one on every channel (a codec moves colours a little). */
export const near = (a: readonly number[], b: readonly number[], tolerance = 16): boolean => a.every((v, i) => Math.abs(v - (b[i] ?? 0)) <= tolerance);

const tonePage = (color: [number, number, number], title: string, extra = '') => `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title>
<style>html,body{margin:0;height:100%;background:rgb(${color.join(',')});overflow:hidden}#m{position:absolute;top:20px;left:0;width:60px;height:60px;background:#fff}</style></head>
<body><div id="m"></div><script>
const m = document.getElementById('m');
let x = 0;
(function step() { if (!window.frozen) { x = (x + 7) % (innerWidth / 2); m.style.transform = 'translateX(' + x + 'px)'; } requestAnimationFrame(step); })();
const ctx = new AudioContext();
const osc = ctx.createOscillator(); osc.frequency.value = ${TONE_HZ};
const gain = ctx.createGain(); gain.gain.value = 0.5;
osc.connect(gain).connect(ctx.destination); osc.start();
${extra}
</script></body></html>`;

/**
 * Black, with a white flash and a 1 kHz beep at the same instant once a second, both timed on
 * the audio clock as it reaches the output, for measuring audio/video sync.
 */
const syncPage = `<!doctype html><html><head><meta charset="utf-8"><title>sync</title>
<style>html,body{margin:0;height:100%;background:#000;overflow:hidden}</style></head><body><script>
const ctx = new AudioContext();
const gain = ctx.createGain(); gain.gain.value = 0; gain.connect(ctx.destination);
const osc = ctx.createOscillator(); osc.frequency.value = 1000; osc.connect(gain); osc.start();
let scheduled = 0;
function schedule() {
  const now = ctx.currentTime;
  for (let k = Math.max(scheduled, Math.ceil(now + 0.2)); k < now + 3; k++) {
    gain.gain.setValueAtTime(0.8, k); gain.gain.setValueAtTime(0, k + 0.1); scheduled = k + 1;
  }
}
setInterval(schedule, 500); schedule();
(function frame() {
  const t = ctx.getOutputTimestamp().contextTime ?? ctx.currentTime;
  document.body.style.background = (t % 1) < 0.1 && t > 0.2 ? '#fff' : '#000';
  requestAnimationFrame(frame);
})();
</script></body></html>`;

/** The whole picture changes every frame: moving stripes and a counter, like a game or a busy dashboard. */
const busyPage = `<!doctype html><html><head><meta charset="utf-8"><title>busy</title>
<style>html,body{margin:0;height:100%;overflow:hidden;background:#000}canvas{display:block}</style></head><body><canvas id="c"></canvas><script>
const c = document.getElementById('c'); c.width = innerWidth; c.height = innerHeight;
const g = c.getContext('2d'); let n = 0;
(function frame() {
  n++;
  for (let i = 0; i < 24; i++) { g.fillStyle = 'hsl(' + ((i * 15 + n * 3) % 360) + ',70%,50%)'; g.fillRect(((i * 80 + n * 6) % (c.width + 80)) - 80, 0, 80, c.height); }
  g.fillStyle = '#fff'; g.font = '96px sans-serif'; g.fillText(String(n), 40, 120);
  requestAnimationFrame(frame);
})();
</script></body></html>`;

/** Green on a first visit; red if it finds the cookie, storage or cache entry an earlier visit left. */
export const FRESH_COLOR: [number, number, number] = [0, 200, 0];
const isolationPage = `<!doctype html><html><head><meta charset="utf-8"><title>isolation</title>
<style>html,body{margin:0;height:100%;overflow:hidden}</style></head><body><script>
(async () => {
  const seen = document.cookie.includes('seen=1') || localStorage.getItem('seen') === '1' || (await caches.has('seen'));
  document.body.style.background = seen ? 'rgb(220,0,0)' : 'rgb(${FRESH_COLOR.join(',')})';
  document.cookie = 'seen=1; max-age=3600; path=/';
  localStorage.setItem('seen', '1');
  await caches.open('seen');
  // ?reload: load again in the same browser context, where the page must find what it left.
  if (!seen && location.search.includes('reload')) setTimeout(() => location.reload(), 1500);
})();
</script></body></html>`;

/** Large characters of the customers' script, one per cell, and a colour emoji in the last cell. */
export const GLYPHS = ['你', '好', '世', '界', '🎨'];
const glyphsPage = `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>glyphs</title>
<style>html,body{margin:0;height:100%;background:#fff;overflow:hidden}
body{display:grid;grid-template-columns:repeat(${GLYPHS.length},1fr)}
div{display:flex;align-items:center;justify-content:center;font:100px "Microsoft YaHei","PingFang SC",sans-serif;color:#000}</style></head>
<body>${GLYPHS.map((g) => `<div>${g}</div>`).join('')}</body></html>`;

/** A 3D scene's worth of work: a full-window WebGL fragment shader, animated every frame. */
const webglPage = `<!doctype html><meta charset="utf-8"><title>webgl</title>
<style>html,body{margin:0;height:100%;overflow:hidden;background:#000}canvas{width:100%;height:100%;display:block}</style>
<canvas id=c></canvas><script>
const c = document.getElementById('c'); const gl = c.getContext('webgl');
const sh = (type, src) => { const s = gl.createShader(type); gl.shaderSource(s, src); gl.compileShader(s); return s; };
const p = gl.createProgram();
gl.attachShader(p, sh(gl.VERTEX_SHADER, 'attribute vec2 a; void main() { gl_Position = vec4(a, 0.0, 1.0); }'));
gl.attachShader(p, sh(gl.FRAGMENT_SHADER, 'precision mediump float; uniform float t; uniform vec2 r; void main() { vec2 u = gl_FragCoord.xy / r; float v = sin(u.x * 10.0 + t) + sin(u.y * 12.0 + t * 1.3) + sin((u.x + u.y) * 8.0 + t * 0.7) + sin(length(u - 0.5) * 20.0 - t * 2.0); gl_FragColor = vec4(0.5 + 0.5 * sin(v), 0.5 + 0.5 * sin(v + 2.0), 0.5 + 0.5 * sin(v + 4.0), 1.0); }'));
gl.linkProgram(p); gl.useProgram(p);
gl.bindBuffer(gl.ARRAY_BUFFER, gl.createBuffer()); gl.bufferData(gl.ARRAY_BUFFER, new Float32Array([-1, -1, 1, -1, -1, 1, 1, 1]), gl.STATIC_DRAW);
const a = gl.getAttribLocation(p, 'a'); gl.enableVertexAttribArray(a); gl.vertexAttribPointer(a, 2, gl.FLOAT, false, 0, 0);
(function frame(ms) {
  c.width = innerWidth; c.height = innerHeight; gl.viewport(0, 0, c.width, c.height);
  gl.uniform1f(gl.getUniformLocation(p, 't'), ms / 1000); gl.uniform2f(gl.getUniformLocation(p, 'r'), c.width, c.height);
  gl.drawArrays(gl.TRIANGLE_STRIP, 0, 4); requestAnimationFrame(frame);
})(0);
</script>`;

/** What navigator.userAgentData tells, low and high entropy: the same in a page, its workers and its frames. */
const UA_DATA = `const uaData = async () => { const d = navigator.userAgentData; const hi = await d.getHighEntropyValues(['fullVersionList', 'uaFullVersion', 'architecture', 'bitness', 'platform', 'formFactors']);
  return { brands: d.brands, mobile: d.mobile, platform: d.platform, fullVersionList: hi.fullVersionList, uaFullVersion: hi.uaFullVersion, architecture: hi.architecture, bitness: hi.bitness, formFactors: hi.formFactors }; };`;
const WORKER_REPORT = `${UA_DATA} const report = async () => ({ language: navigator.language, timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone, userAgent: navigator.userAgent, uaData: await uaData() });`;

/**
 * Reports what the page sees of its browser (and what its request said) to /report: in the
 * page, a dedicated worker, a service worker and a cross-site frame (localhost against the
 * page's 127.0.0.1, so Chromium runs it in a process of its own).
 */
const lookPage = (acceptLanguage: string) => `<!doctype html><meta charset="utf-8"><title>look</title><body style="background:#fff"><script>
${WORKER_REPORT}
const fromWorker = new Promise((resolve) => { const w = new Worker(URL.createObjectURL(new Blob([WORKER_REPORT_SRC + 'report().then(postMessage)']))); w.onmessage = (e) => resolve(e.data); });
const fromServiceWorker = navigator.serviceWorker.register('/look-sw.js').then(() => navigator.serviceWorker.ready).then((reg) => new Promise((resolve) => {
  navigator.serviceWorker.onmessage = (e) => resolve(e.data); reg.active.postMessage('report');
}));
const fromFrame = new Promise((resolve) => { addEventListener('message', (e) => { if (e.data && e.data.frame) resolve(e.data.frame); }); });
const frame = document.createElement('iframe'); frame.src = location.href.replace('127.0.0.1', 'localhost').replace(/look.*$/, 'look-frame'); document.body.append(frame);
Promise.all([fromWorker, fromServiceWorker, fromFrame, uaData()]).then(([worker, serviceWorker, crossSiteFrame, pageUaData]) => fetch('/report', { method: 'POST', body: JSON.stringify({
  acceptLanguage: ${JSON.stringify(acceptLanguage)},
  language: navigator.language, languages: navigator.languages,
  timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone, offsetMinutes: new Date('2026-01-15T00:00:00Z').getTimezoneOffset(),
  userAgent: navigator.userAgent, webdriver: navigator.webdriver, uaData: pageUaData,
  mouse: [matchMedia('(pointer: fine)').matches, matchMedia('(any-pointer: fine)').matches, matchMedia('(hover: hover)').matches, matchMedia('(any-hover: hover)').matches],
  permissions: [Notification.permission, navigator.plugins.length > 0, navigator.pdfViewerEnabled, typeof window.chrome],
  screen: [screen.width, screen.height, screen.availWidth, screen.availHeight], inner: [innerWidth, innerHeight],
  worker, serviceWorker, crossSiteFrame,
}) }));
</script></body>`.replace('WORKER_REPORT_SRC', JSON.stringify(WORKER_REPORT));

export interface PageServer {
  url: string;
  /** What pages posted to /report, in order. */
  reports: Record<string, unknown>[];
  /** Lets the page /navigates?on=`name` go on to /second, and answers /held?on=`name`. */
  go(name: string): void;
  /** Whether a browser asked for /held?on=`name` (whose answer waits for go(name)). */
  asked(name: string): boolean;
  close(): Promise<void>;
}

export async function startPageServer(): Promise<PageServer> {
  const reports: Record<string, unknown>[] = [];
  const released = new Set<string>();
  const asked = new Set<string>();
  /** Answers to /held?on=name, sent by go(name). */
  const held = new Map<string, (() => void)[]>();
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const html = (body: string, status = 200) => res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' }).end(body);
    switch (path) {
      case '/tone':
        return html(tonePage(PAGE_COLOR, 'tone'));
      case '/navigates': {
        // Goes to /second once the test says so (`go(name)` of ?on=name): when its viewer has seen this one.
        const on = new URL(req.url ?? '/', 'http://x').searchParams.get('on') ?? '';
        return html(tonePage(PAGE_COLOR, 'first', `setInterval(async () => { if ((await fetch('/go?on=' + encodeURIComponent(${JSON.stringify(on)}))).status === 200) location.href = '/second'; }, 200);`));
      }
      case '/go':
        return res.writeHead(released.has(new URL(req.url ?? '/', 'http://x').searchParams.get('on') ?? '') ? 200 : 204).end();
      case '/second':
        return html(tonePage(SECOND_COLOR, 'second'));
      case '/held': {
        // A page whose load the test holds, for something to happen while it is put on air.
        const on = new URL(req.url ?? '/', 'http://x').searchParams.get('on') ?? '';
        asked.add(on);
        const answer = () => html(tonePage(PAGE_COLOR, 'held'));
        if (released.has(on)) return answer();
        held.set(on, [...(held.get(on) ?? []), answer]);
        return;
      }
      case '/isolation':
        return html(isolationPage);
      case '/notify': {
        // EventNotify pages: ?start=ms calls onWebcastStart() then; ?end=ms calls onWebcastEnd() then.
        const q = new URL(req.url ?? '/', 'http://x').searchParams;
        const start = q.get('start');
        const end = q.get('end');
        return html(tonePage(PAGE_COLOR, 'notify', `
window.loads = (Number(sessionStorage.getItem('loads')) || 0) + 1; sessionStorage.setItem('loads', String(window.loads));
${start ? `setTimeout(() => { if (typeof onWebcastStart === 'function') onWebcastStart(); }, ${Number(start)});` : ''}
${end ? `setTimeout(() => { if (typeof onWebcastEnd === 'function') onWebcastEnd(); }, ${Number(end)});` : ''}`));
      }
      case '/monitor': {
        // ?white=ms turns the page uniform white, ?freeze=ms stops its animation, ?spin=ms hangs its
        // JS thread; ?block=ms blocks it, that long after the page loaded, in a synchronous request
        // that is never answered.
        const q = new URL(req.url ?? '/', 'http://x').searchParams;
        const after = (name: string, code: string) => (q.get(name) ? `setTimeout(() => { ${code} }, ${Number(q.get(name))});` : '');
        return html(tonePage(PAGE_COLOR, 'monitor', [
          after('white', "document.body.innerHTML = ''; document.body.style.background = '#fff';"),
          after('freeze', 'window.frozen = true;'),
          after('spin', 'for (;;) {}'),
          q.get('block') ? `addEventListener('load', () => { ${after('block', "const x = new XMLHttpRequest(); x.open('GET', '/never', false); x.send();")} });` : '',
        ].join('\n')));
      }
      case '/never':
        // Answered by nobody: the connection is held until the server closes.
        return;
      case '/slide':
        return html(`<!doctype html><title>slide</title><body style="margin:0;background:#fff;font:48px sans-serif"><h1 style="margin:40px">Quarterly review</h1><ul><li>Revenue</li><li>Costs</li></ul><div style="position:absolute;right:40px;bottom:40px;width:200px;height:120px;background:rgb(${PAGE_COLOR.join(',')})"></div></body>`);
      case '/visibility':
        // Green while the page believes it is shown, red once it thinks it is hidden or unfocused.
        return html(`<!doctype html><title>visibility</title><body style="margin:0;height:100vh"><script>
const paint = () => { document.body.style.background = document.visibilityState === 'visible' && !document.hidden && document.hasFocus() ? 'rgb(${FRESH_COLOR.join(',')})' : 'rgb(220,0,0)'; };
document.addEventListener('visibilitychange', paint); addEventListener('blur', paint); addEventListener('focus', paint); setInterval(paint, 200); paint();
</script></body>`);
      case '/busy':
        return html(busyPage);
      case '/sync':
        return html(syncPage);
      case '/redirect':
        return res.writeHead(302, { location: new URL(req.url ?? '/', 'http://x').searchParams.get('to') ?? '/' }).end();
      case '/subresource':
        return html(tonePage(PAGE_COLOR, 'subresource', `const img = new Image(); img.src = ${JSON.stringify(new URL(req.url ?? '/', 'http://x').searchParams.get('src') ?? '')}; document.body.append(img);`));
      case '/missing':
        return html('<h1>not here</h1>', 404);
      case '/glyphs':
        return html(glyphsPage);
      case '/webgl':
        return html(webglPage);
      case '/look':
        return html(lookPage(String(req.headers['accept-language'] ?? '')));
      case '/look-frame':
        return html(`<!doctype html><script>${WORKER_REPORT} report().then((r) => parent.postMessage({ frame: r }, '*'));</script>`);
      case '/look-sw.js':
        return res.writeHead(200, { 'content-type': 'text/javascript' }).end(`${WORKER_REPORT} self.onmessage = (e) => report().then((r) => e.source.postMessage(r));`);
      case '/report': {
        let body = '';
        req.on('data', (d: Buffer) => (body += d.toString()));
        req.on('end', () => {
          reports.push(JSON.parse(body) as Record<string, unknown>);
          res.writeHead(204).end();
        });
        return;
      }
      default:
        return html('<h1>no such test page</h1>', 404);
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    reports,
    go: (name) => {
      released.add(name);
      for (const answer of held.get(name) ?? []) answer();
      held.delete(name);
    },
    asked: (name) => asked.has(name),
    close: () => new Promise((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}
