import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { chownSync, mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { nodeKey } from '../../src/capture/cloud-browser.js';
import { ACCESS_KEY, SECRET_KEY, getTask, sdkClient, waitFor } from '../helpers/node.js';
import { startHostileServer, type HostileServer } from '../helpers/hostile-pages.js';
import { loopbackListeners } from '../helpers/loopback-listeners.js';
import { inMountNamespace, spawnService, SYS_AS_SYSTEMD_MOUNTS_IT, type ServiceProcess } from '../helpers/process.js';
import { pidsWhere } from '../helpers/procfs.js';
import { startTestHost, type TestHost } from '../helpers/test-host.js';
import { decodedByViewer } from '../helpers/viewer-link.js';

/**
 * Where a browser cannot have a network of its own, the node says why at start and runs its
 * browsers in the node's network namespace: tasks go on air, and the browser firewall still keeps
 * page WebRTC to public addresses. The machine here is one without udev, where /dev/net/tun is
 * root's alone (mode 0600): the service runs in a mount namespace of its own where that is so,
 * and the rest of the machine keeps its device.
 */

const notRoot = process.getuid?.() !== 0 && 'needs root, to give the service a /dev/net/tun of its own';
const WITHOUT_UDEV = inMountNamespace(`mount -t tmpfs -o mode=0755,size=64k no-udev /dev/net && mknod -m 0600 /dev/net/tun c 10 200 && ${SYS_AS_SYSTEMD_MOUNTS_IT}`);
const PAGES_HOST = '127.0.0.2';
const FRAME_HOST = '127.0.0.3';
// The unit's user and capabilities (test/engine/unprivileged.test.ts), with a uid of this file's.
const SERVICE_UID = 2001000001;
const CAPS = ['chown', 'dac_override', 'kill', 'setgid', 'setuid', 'net_admin', 'net_raw'].map((c) => `+${c}`).join(',');
const AS_THE_UNIT = ['/usr/bin/setpriv', `--reuid=${SERVICE_UID}`, `--regid=${SERVICE_UID}`, '--clear-groups', `--inh-caps=${CAPS}`, `--ambient-caps=${CAPS}`, '--'];
const BENIGN = { AppId: 'benign', RoomId: 'hall', TaskId: 'steady' };
const ATTACKER = { AppId: 'attacker', RoomId: 'den', TaskId: 'webrtc' };

// As root the node makes each browser's network with slirp4netns before the browser; under the
// unit's capabilities the Landlock helper makes it in the browser's user namespace. Each has its
// own probe at start.
for (const asUnit of [false, true]) describe(`a node ${asUnit ? 'run as the unit runs it' : 'run as root'} whose browsers cannot have a network of their own`, { timeout: 240_000, skip: notRoot }, () => {
  let pages: HostileServer;
  let host: TestHost;
  let service: ServiceProcess | undefined;
  const dataDir = mkdtempSync(path.join(tmpdir(), 'webcast-shared-network-'));
  const start = async (key: typeof BENIGN, page: string, layer: { Width: number; Height: number; FrameRate: number }) => {
    if (!service) throw new Error('no service');
    const res = await sdkClient(service.host).start({ ...key, UserId: `${key.AppId}-${key.TaskId}`, SourceURL: `${pages.url}${page}`, VideoSolutions: [layer] });
    assert.equal(res.Result, 'ok', JSON.stringify(res.ResponseMetadata.Error));
    await waitFor(`${key.TaskId} on air`, async () => (await getTask(service?.host ?? '', key))?.Status === 2, 30_000);
  };

  before(async () => {
    pages = await startHostileServer(PAGES_HOST, FRAME_HOST);
    host = startTestHost();
    if (asUnit) chownSync(dataDir, SERVICE_UID, SERVICE_UID);
    service = await spawnService(
      { WEBCAST_WORKER: 'true', WEBCAST_DATA_DIR: dataDir, WEBCAST_ACCESS_KEY: ACCESS_KEY, WEBCAST_SECRET_KEY: SECRET_KEY, WEBCAST_URL_ALLOWLIST: `${PAGES_HOST},${FRAME_HOST}`, ...(asUnit ? { HOME: dataDir } : {}) },
      undefined,
      [...WITHOUT_UDEV, ...(asUnit ? AS_THE_UNIT : [])],
    );
  });
  after(async () => {
    const code = await service?.stop();
    await pages.close();
    host.close();
    rmSync(dataDir, { recursive: true, force: true });
    assert.equal(code, 0, 'the service stops cleanly');
  });

  it('says at start why, and puts its tasks on air from the node\'s network', async () => {
    if (!service) throw new Error('no service');
    const warning = service.output().split('\n').find((l) => l.includes('browsers share the node\'s network namespace'));
    assert.ok(warning, `the node warns at start:\n${service.output()}`);
    assert.match(String((JSON.parse(warning) as { reason?: string }).reason), /tun|permission|not permitted/i, 'the warning says why');
    assert.doesNotMatch(service.output(), /each browser gets a network namespace of its own/);

    await start(BENIGN, '/steady', { Width: 640, Height: 360, FrameRate: 15 });
    const video = await decodedByViewer(service.host, { accessKey: ACCESS_KEY, secretKey: SECRET_KEY }, BENIGN, `${BENIGN.AppId}-${BENIGN.TaskId}`, 640);
    assert.equal(video.height, 360, `a viewer decodes the page at its size (${JSON.stringify(video)})`);

    // The fallback is what runs: the browser is in the node's network namespace, and still
    // its own uid, not root.
    const root = path.join(tmpdir(), `webcast-browsers-${nodeKey(dataDir)}`);
    // Chromium itself, not the launch's wrappers that name its folder too.
    const main = pidsWhere((cmd) => cmd.includes(`--user-data-dir=${root}`) && !cmd.includes('--type=') && /\/chromium$/.test(cmd.split(' ')[0] ?? ''))[0];
    assert.ok(main, 'the browser process runs');
    assert.equal(readlinkSync(`/proc/${main}/ns/net`), readlinkSync('/proc/self/ns/net'), 'the browser is in the node\'s network namespace');
    const uid = Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${main}/status`, 'utf8'))?.[1]);
    assert.ok(![0, SERVICE_UID].includes(uid), `the browser runs as a uid of its own, not root nor the service (${uid})`);
    if (asUnit) assert.equal(Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${service.child.pid ?? 0}/status`, 'utf8'))?.[1]), SERVICE_UID, 'the service runs as the unit\'s user');
  });

  it('still keeps page WebRTC from loopback and the node\'s own addresses, and shows no address of the node, while a public host is reached', async () => {
    const loop = await loopbackListeners();
    const own = Object.values(networkInterfaces()).flat().filter((i) => i && !i.internal && i.family === 'IPv4').map((i) => i?.address ?? '');
    const nodeUdp = dgram.createSocket('udp4');
    let nodeHits = 0;
    nodeUdp.on('message', () => (nodeHits += 1));
    await new Promise<void>((r) => nodeUdp.bind(0, '0.0.0.0', r));
    const publicListener = await host.listenUdp(3478);
    try {
      const udp = [loop.udp, ...own.map((a) => `${a}:${nodeUdp.address().port}`), `${host.address}:3478`];
      await start(ATTACKER, `/webrtc?udp=${udp.join(',')}&tcp=${loop.tcp}&rounds=3&id=${ATTACKER.TaskId}`, { Width: 320, Height: 180, FrameRate: 10 });
      await waitFor('the page\'s rounds', async () => pages.from('webrtc').includes(`done ${ATTACKER.TaskId}`), 40_000, 500);
      assert.ok(publicListener.count() > 0, 'the public test host was reached (the check works)');
      assert.deepEqual(loop.hits(), { udp4: 0, udp6: 0, tcp4: 0, tcp6: 0, udp: 0, tcp: 0 }, 'nothing reached loopback');
      assert.equal(nodeHits, 0, 'no datagram reached the node\'s own addresses');
      const candidates = pages.from('webrtc').filter((w) => w.startsWith('candidate'));
      assert.ok(candidates.length > 0, 'the page gathered candidates');
      for (const c of candidates) for (const a of [...own, '127.0.0.1']) assert.ok(!c.includes(` ${a} `), `a candidate shows ${a}: ${c}`);
    } finally {
      publicListener.close();
      loop.close();
      nodeUdp.close();
    }
    assert.equal((await getTask(service?.host ?? '', BENIGN))?.Status, 2, 'the benign task is still on air');
  });
});
