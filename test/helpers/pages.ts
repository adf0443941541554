import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** Pages with known content for the engine tests, served on loopback. */
export const PAGE_COLOR: [number, number, number] = [30, 120, 200];
export const SECOND_COLOR: [number, number, number] = [40, 170, 60];
export const TONE_HZ = 440;

const tonePage = (color: [number, number, number], title: string, extra = '') => `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title>
<style>html,body{margin:0;height:100%;background:rgb(${color.join(',')});overflow:hidden}#m{position:absolute;top:20px;left:0;width:60px;height:60px;background:#fff}</style></head>
<body><div id="m"></div><script>
const m = document.getElementById('m');
let x = 0;
(function step() { x = (x + 7) % (innerWidth / 2); m.style.transform = 'translateX(' + x + 'px)'; requestAnimationFrame(step); })();
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

export interface PageServer {
  url: string;
  close(): Promise<void>;
}

export async function startPageServer(): Promise<PageServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const html = (body: string, status = 200) => res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' }).end(body);
    switch (path) {
      case '/tone':
        return html(tonePage(PAGE_COLOR, 'tone'));
      case '/navigates':
        return html(tonePage(PAGE_COLOR, 'first', `setTimeout(() => { location.href = '/second'; }, ${Number(new URL(req.url ?? '/', 'http://x').searchParams.get('after') ?? 3000)});`));
      case '/second':
        return html(tonePage(SECOND_COLOR, 'second'));
      case '/sync':
        return html(syncPage);
      case '/redirect':
        return res.writeHead(302, { location: new URL(req.url ?? '/', 'http://x').searchParams.get('to') ?? '/' }).end();
      case '/subresource':
        return html(tonePage(PAGE_COLOR, 'subresource', `const img = new Image(); img.src = ${JSON.stringify(new URL(req.url ?? '/', 'http://x').searchParams.get('src') ?? '')}; document.body.append(img);`));
      case '/missing':
        return html('<h1>not here</h1>', 404);
      default:
        return html('<h1>no such test page</h1>', 404);
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}
