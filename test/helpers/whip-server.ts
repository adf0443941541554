import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Janode from 'janode';
import VideoRoomPlugin from 'janode/plugins/videoroom';
import { pino } from 'pino';
import { EmbeddedJanus, freePort } from '../../src/rooms/janus/embedded-janus.js';
import { JanusRoomBackend, janusRoomId } from '../../src/rooms/janus/janus-rooms.js';
import type { RoomRef } from '../../src/rooms/room-backend.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** Where scripts/install-deps.sh puts Debian's simple-whip-server. */
const PACKAGE_SRC = path.join(ROOT, '.deps/simple-whip-server/usr/share/simple-whip-server/src');

export interface WhipEndpointSpec {
  id: string;
  room: RoomRef;
  /** The publisher's display name in the Janus room (a viewer finds it by this). */
  label: string;
  token?: string;
}

/**
 * Meetecho's simple-whip-server, as Debian packages it, in front of a Janus of its own: a WHIP
 * endpoint nobody here wrote, and a room behind it to watch what arrives.
 */
export interface WhipPeer {
  /** http://127.0.0.1:port/whip */
  url: string;
  /** Connected to the peer's Janus, for subscribers. */
  rooms: JanusRoomBackend;
  janus: EmbeddedJanus;
  /** Makes the Janus room and a WHIP endpoint that publishes into it. */
  createEndpoint(spec: WhipEndpointSpec): Promise<void>;
  /** The server's own view of its endpoints: whether one has a publisher now. */
  endpoints(): Promise<{ id: string; enabled: boolean }[]>;
  output(): string;
  close(): Promise<void>;
}

export const whipServerInstalled = (): boolean => existsSync(path.join(PACKAGE_SRC, 'server.js'));

export async function startWhipPeer(): Promise<WhipPeer> {
  const dir = mkdtempSync(path.join(tmpdir(), 'webcast-whip-peer-'));
  const janus = new EmbeddedJanus({ dataDir: path.join(dir, 'janus'), log: pino({ level: 'silent' }) });
  const { wsUrl } = await janus.start();
  const port = await freePort();
  // The package's code as it is; only its config (a symlink into /etc in the package) is ours.
  const src = path.join(dir, 'src');
  mkdirSync(src, { recursive: true });
  for (const f of ['server.js', 'whip-janus.js']) copyFileSync(path.join(PACKAGE_SRC, f), path.join(src, f));
  writeFileSync(
    path.join(src, 'config.js'),
    `module.exports = ${JSON.stringify({ janus: { address: wsUrl, apiSecret: janus.apiSecret }, port, rest: '/whip', allowTrickle: true, strictETags: false, iceServers: [] })};\n`,
  );
  let out = '';
  const child: ChildProcess = spawn(process.execPath, [path.join(src, 'server.js')], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? '', NODE_PATH: path.join(ROOT, 'node_modules'), DEBUG: 'whip:*', DEBUG_COLORS: 'false' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const url = `http://127.0.0.1:${port}/whip`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`simple-whip-server exited: ${out}`);
    const ok = await fetch(`${url}/healthcheck`).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`simple-whip-server did not answer: ${out}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const rooms = await JanusRoomBackend.connect(wsUrl, pino({ level: 'silent' }), janus.apiSecret);
  const connection = await Janode.connect({ address: { url: wsUrl, apisecret: janus.apiSecret } });
  const session = await connection.create();
  const control = await session.attach(VideoRoomPlugin);
  return {
    url,
    rooms,
    janus,
    async createEndpoint(spec) {
      const room = janusRoomId(spec.room);
      if (!(await control.exists({ room })).exists) await control.create({ room, permanent: false, max_publishers: 10, videocodec: 'vp8,h264', audiocodec: 'opus', bitrate: 0 });
      const res = await fetch(`${url}/create`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ id: spec.id, room, label: spec.label, ...(spec.token ? { token: spec.token } : {}) }),
      });
      if (!res.ok) throw new Error(`creating WHIP endpoint ${spec.id}: HTTP ${res.status} ${await res.text()}`);
    },
    async endpoints() {
      return (await (await fetch(`${url}/endpoints`)).json()) as { id: string; enabled: boolean }[];
    },
    output: () => out,
    async close() {
      await rooms.close();
      await session.destroy().catch(() => undefined);
      await connection.close().catch(() => undefined);
      child.kill('SIGKILL');
      await janus.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
