import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { chmodSync, copyFileSync, existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { JOIN_AND_EXEC, nodeKey } from '../../src/capture/cloud-browser.js';
import { BROWSER_MAX_PIDS } from '../../src/capture/task-cgroups.js';
import { confineCommand, probeConfinement, SCOPED_ABI } from '../../src/capture/browser-confinement.js';
import { SLIRP4NETNS } from '../../src/capture/browser-network.js';
import { getTask, sdkClient, startTestNode, waitFor, type TestNode } from '../helpers/node.js';
import { startHostileServer, type HostileServer } from '../helpers/hostile-pages.js';
import { Subscriber } from '../helpers/subscriber.js';
import { startTestHost, type TestHost } from '../helpers/test-host.js';
import { chromiumRole, cpuTicks, tree } from '../helpers/procfs.js';
import { TICKS_PER_SECOND } from '../../src/capture/proc-stat.js';
import { printNodeLogsOnFailure } from '../helpers/failure-logs.js';
import { loopbackListeners } from '../helpers/loopback-listeners.js';

/**
 * Pages that attack the node, each run beside a benign task of another AppId. Each test checks
 * that the attack ran, that it got nothing, and that the benign task stayed on air at its size
 * and rate as a real subscriber decodes it.
 */

// The pages are served on a loopback address of their own, the only one the allowlist opens;
// the node's services, and the listeners the attacks aim at, are on 127.0.0.1.
const PAGES_HOST = '127.0.0.2';
// A second site for the pages' cross-site frames (another site: another renderer process).
const FRAME_HOST = '127.0.0.3';
const VICTIM = { AppId: 'victim', RoomId: 'lobby', TaskId: 'steady' };
const VICTIM_LAYER = { Width: 640, Height: 360, FrameRate: 15 };
const PAGE_MEMORY_MB = 1024;
const small = { VideoSolutions: [{ Width: 320, Height: 180, FrameRate: 10 }] };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// The browser's own user, its cgroups and its firewall are set up by a service that runs as root.
const notRoot = process.getuid?.() !== 0 && 'needs root, as the service needs it for the browser\'s own user, cgroups and firewall';

describe('hostile pages beside a benign task of another AppId', { timeout: 600_000, skip: notRoot }, () => {
  let t: TestNode;
  printNodeLogsOnFailure(() => t);
  let pages: HostileServer;
  let browsersRoot: string;
  const stale = { file: '' };
  // A file of secrets an operator left readable by every user, where such files go: in /etc.
  const keysFile = `/etc/webcast-hostile-${process.pid}.keys.json`;
  const keysCopy = `${keysFile}.bak`;
  const keysLink = `/etc/ssl/webcast-hostile-${process.pid}.json`;
  const leakedSecret = `hostile-suite-secret-${process.pid}-${Date.now()}`;

  before(async () => {
    pages = await startHostileServer(PAGES_HOST, FRAME_HOST);
    const dataDir = mkdtempSync(path.join(tmpdir(), 'webcast-hostile-'));
    browsersRoot = path.join(tmpdir(), `webcast-browsers-${nodeKey(dataDir)}`);
    // What a killed earlier run on the same data folder left behind.
    stale.file = path.join(browsersRoot, '1-deadbeef', 'tmp', 'left-behind.bin');
    mkdirSync(path.dirname(stale.file), { recursive: true });
    writeFileSync(stale.file, Buffer.alloc(1 << 20));
    writeFileSync(keysFile, JSON.stringify({ keys: [{ accessKey: 'AKHOSTILE0001', secretKey: leakedSecret, appIds: ['hostile-keys'] }] }), { mode: 0o644 });
    // What an operator leaves beside it: a backup copy, and a second link elsewhere in /etc.
    copyFileSync(keysFile, keysCopy);
    chmodSync(keysCopy, 0o644);
    linkSync(keysFile, keysLink);
    t = await startTestNode({
      dataDir,
      env: { WEBCAST_WORKER: 'true', WEBCAST_URL_ALLOWLIST: `${PAGES_HOST},${FRAME_HOST}`, WEBCAST_MAX_TASKS: '6', WEBCAST_PAGE_MEMORY_MB: String(PAGE_MEMORY_MB), WEBCAST_MAX_RESCHEDULES: '1', WEBCAST_KEYS_FILE: keysFile },
    });
    await start(VICTIM, '/steady', { VideoSolutions: [VICTIM_LAYER] });
    // The page settles at its size (the "sharing this tab" bar comes a moment after capture).
    await sleep(3000);
  });
  after(async () => {
    await viewer?.leave().catch(() => undefined);
    await t?.close();
    await pages?.close();
    for (const f of [keysFile, keysCopy, keysLink]) rmSync(f, { force: true });
  });

  async function start(key: typeof VICTIM, page: string, over: Record<string, unknown> = small): Promise<void> {
    const res = await sdkClient(t.host).start({ ...key, UserId: `${key.AppId}-${key.TaskId}`, SourceURL: `${pages.url}${page}`, ...over });
    assert.equal(res.Result, 'ok', JSON.stringify(res.ResponseMetadata.Error));
    await waitFor(`${key.TaskId} on air`, async () => (await getTask(t.host, key))?.Status === 2, 30_000);
  }
  const stop = async (key: typeof VICTIM) => {
    await sdkClient(t.host).stop(key);
    await waitFor(`${key.TaskId} ended`, async () => (await getTask(t.host, key))?.Status === 3, 10_000);
  };
  const attacker = (TaskId: string) => ({ AppId: 'attacker', RoomId: 'den', TaskId });

  /**
   * The benign task is on air, at its size and at least 90 % of its frame rate, at a real
   * subscriber: one viewer who stays in the room through every attack, as its audience does.
   */
  let viewer: Subscriber | undefined;
  async function victimOnAir(): Promise<number> {
    if (!t.node.worker) throw new Error('no worker');
    assert.equal((await getTask(t.host, VICTIM))?.Status, 2);
    if (!viewer) {
      viewer = await Subscriber.join(t.node.worker.rooms, { appId: VICTIM.AppId, roomId: VICTIM.RoomId }, `${VICTIM.AppId}-${VICTIM.TaskId}`);
      await viewer.waitForVideo((x) => x.framesDecoded > 10);
      // The rate the node keeps up, not the viewer's own first second (its jitter buffer and
      // decoder settling after the keyframe it joined on).
      await sleep(1000);
    }
    const v = await viewer.video();
    assert.deepEqual([v.width, v.height], [VICTIM_LAYER.Width, VICTIM_LAYER.Height]);
    const fps = await viewer.measuredFps(6000);
    assert.ok(fps >= 0.9 * VICTIM_LAYER.FrameRate, `the benign task is decoded at ${fps.toFixed(1)} fps`);
    return fps;
  }

  const browserOf = (key: typeof VICTIM) => {
    const browser = t.node.worker?.engine.session(key)?.browser;
    assert.ok(browser, `${key.TaskId} has a browser`);
    return browser;
  };

  /**
   * The browser process of a task's browser: its cgroup holds its network's processes too
   * (browser-network.ts), which run in the node's mount namespace.
   */
  const mainPid = (browser: { pids(): number[] }) => browser.pids().find((pid) => {
    const line = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return line.includes('--user-data-dir=') && !line.includes('--type=');
  });

  /** setpriv's arguments that make the rest of its command line run as `uid`, with no groups. */
  const asUid = (uid: number | string | undefined) => [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--'];
  /** Runs `script` as `uid` in the node's namespaces. */
  const onNodeAs = (uid: number | undefined, script: string) => spawnSync('/usr/bin/setpriv', [...asUid(uid), '/bin/sh', '-c', script], { encoding: 'utf8' });
  /** Runs `script` as the browser's uid inside the mount, IPC and network namespaces of its process `pid`: code out of its sandbox. */
  const inBrowserNamespace = (pid: number | undefined, uid: number | undefined, script: string) =>
    spawnSync('/usr/bin/nsenter', [`--target=${pid}`, '--mount', '--ipc', '--net', '--', '/usr/bin/setpriv', ...asUid(uid), '/bin/sh', '-c', script], { encoding: 'utf8' });
  /** The command line that joins the listed cgroups as a browser's launch does, then runs `command` as `uid`: code out of a browser's sandbox, in its groups. */
  const inBrowserGroups = (uid: number | undefined, procsFiles: readonly string[], ...command: string[]): string[] => [
    '/bin/sh', '-c', JOIN_AND_EXEC, 'webcast-test-join', ...procsFiles, '--', '/usr/bin/setpriv', ...asUid(uid), ...command,
  ];

  it('a file of secrets left readable by every user is empty in every browser\'s root, with its backup copy and its second link, and the node says so', () => {
    const browser = browserOf(VICTIM);
    for (const file of [keysFile, keysCopy, keysLink]) {
      const outside = onNodeAs(browser.uid, `cat ${file}`);
      assert.ok(outside.stdout.includes(leakedSecret), `the browser's uid reads ${file} on the node`);
      const inside = inBrowserNamespace(mainPid(browser), browser.uid, `cat ${file}`);
      assert.equal(inside.stderr, '');
      assert.equal(inside.stdout, '', `${file} is empty in the browser's root`);
    }
    assert.ok(t.logs.some((l) => l.includes('WEBCAST_KEYS_FILE') && l.includes('readable by every user')), 'the node warned about the file');
    for (const file of [keysCopy, keysLink]) assert.ok(t.logs.some((l) => l.includes(file) && l.includes('readable by every user')), `the node warned about ${file}`);
  });

  it('a start removes what a killed run left in its browser folders', () => {
    assert.equal(existsSync(stale.file), false);
    assert.deepEqual(readdirSync(browsersRoot).filter((d) => d.startsWith('1-deadbeef')), []);
  });

  it('runs each task\'s Chromium sandboxed, as an unprivileged uid of its own, in a cgroup of its own', async () => {
    const pids = browserOf(VICTIM).pids();
    assert.ok(pids.length >= 3, `the task's browser has its processes in its cgroup (${pids.length})`);
    const status = (pid: number) => readFileSync(`/proc/${pid}/status`, 'utf8');
    const fieldOf = (pid: number, name: string) => new RegExp(`^${name}:\\s+(.*)$`, 'm').exec(status(pid))?.[1] ?? '';
    const cmd = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    const ns = (pid: number | 'self', kind: string) => readlinkSync(`/proc/${pid}/ns/${kind}`);
    for (const pid of pids) {
      const [realUid, effectiveUid] = fieldOf(pid, 'Uid').split(/\s+/).map(Number);
      assert.notEqual(realUid, 0, `pid ${pid} (${cmd(pid).split('\0')[0]}) runs as root`);
      assert.notEqual(effectiveUid, 0);
    }
    // Nor can any process of it gain privileges through a setuid program: each has no_new_privs,
    // and its root's /usr, where such programs are, is mounted without setuid.
    for (const pid of pids) assert.equal(fieldOf(pid, 'NoNewPrivs'), '1', `pid ${pid} (${cmd(pid).split('\0')[0]}) may gain privileges`);
    const usr = readFileSync(`/proc/${mainPid(browserOf(VICTIM)) ?? 0}/mountinfo`, 'utf8').split('\n').map((l) => l.split(' ')).find((f) => f[4] === '/usr');
    assert.match(usr?.[5] ?? '', /(^|,)nosuid(,|$)/, `its /usr is mounted ${usr?.[5]}`);
    assert.match(usr?.[5] ?? '', /(^|,)ro(,|$)/, `its /usr is mounted ${usr?.[5]}`);
    // Each task's browser has a uid of its own: even out of its sandbox, a page could not
    // signal, trace or read another task's browser, nor the service's data folder.
    const uidOf = (pid: number) => Number(fieldOf(pid, 'Uid').split(/\s+/)[0]);
    const victimUid = uidOf(pids[0] ?? 0);
    assert.ok(pids.every((p) => uidOf(p) === victimUid), 'one uid for the whole browser');
    assert.equal(browserOf(VICTIM).uid, victimUid);
    const asBrowser = (...cmd: string[]) => execFileSync('/usr/bin/setpriv', [...asUid(victimUid), ...cmd], { stdio: 'ignore' });
    assert.throws(() => asBrowser('/bin/cat', path.join(t.dataDir, 'webcast.sqlite')), 'the browser\'s uid cannot read the task store');
    const neighbour = attacker('neighbour');
    await start(neighbour, '/steady');
    try {
      const theirs = browserOf(neighbour).pids();
      assert.notEqual(uidOf(theirs[0] ?? 0), victimUid, 'another task\'s browser runs as another uid');
      assert.throws(() => asBrowser('/bin/kill', '-0', String(theirs[0])), 'a browser cannot signal another task\'s');
      assert.throws(() => asBrowser('/bin/cat', `/proc/${theirs[0]}/environ`), 'nor read its process');
      assert.throws(() => asBrowser('/bin/ls', browserOf(neighbour).dir), 'nor its folder');
    } finally {
      await stop(neighbour);
    }
    const renderers = pids.filter((p) => cmd(p).includes('--type=renderer'));
    assert.ok(renderers.length >= 2, 'the page and the controller have renderers');
    for (const pid of renderers) {
      assert.equal(fieldOf(pid, 'Seccomp'), '2', `renderer ${pid} runs under a seccomp-bpf filter`);
      assert.equal(fieldOf(pid, 'NoNewPrivs'), '1');
      assert.notEqual(ns(pid, 'user'), ns('self', 'user'), 'in a user namespace of its own');
      assert.notEqual(ns(pid, 'net'), ns('self', 'net'), 'with no network of its own');
      assert.notEqual(ns(pid, 'pid'), ns('self', 'pid'), 'seeing no other process');
    }
  });

  it('no page can capture anything, by any path, while other tasks start and stop; a running page never changes size', async () => {
    const steadyBefore = pages.from('steady').length;
    const thief = attacker('thief');
    await start(thief, '/thief');
    // Each start opens a capture in its own browser: a pending call elsewhere must not meet it.
    for (let i = 0; i < 3; i += 1) {
      const other = { AppId: 'victim2', RoomId: `r${i}`, TaskId: `other${i}` };
      await start(other, '/steady');
      await stop(other);
    }
    await waitFor('the thief reloaded and navigated', async () => pages.from('thief').some((w) => w.startsWith('tried prototype/3')), 20_000);
    await sleep(4500);
    const seen = pages.from('thief');
    const tried = seen.filter((w) => w.startsWith('tried'));
    for (const path of ['prototype', 'iframe', 'popup']) assert.ok(tried.some((w) => w.startsWith(`tried ${path}/`)), `the ${path} attempts ran`);
    assert.ok(tried.length >= 12, `${tried.length} attempts`);
    assert.deepEqual(seen.filter((w) => w.startsWith('GOT')), [], 'no capture was obtained');
    assert.equal(t.node.worker?.engine.session(thief)?.browser.connected, true);
    await stop(thief);

    // Nobody clicks a webcast's page; but should a page ever get a user gesture, the call made
    // with it, and one from a popup that it lets the page open, must get nothing either.
    const clicked = attacker('gesture');
    await start(clicked, '/gesture-thief');
    await waitFor('the gesture thief loaded', async () => pages.from('gesture').includes('ready'), 10_000);
    await t.node.worker?.engine.session(clicked)?.page.mouse.click(20, 20);
    await waitFor('the popup\'s attempt', async () => pages.from('gesture').includes('tried popup-gesture'), 10_000);
    await sleep(4500);
    assert.ok(pages.from('gesture').includes('tried gesture'));
    assert.deepEqual(pages.from('gesture').filter((w) => w.startsWith('GOT')), [], 'no capture was obtained with a gesture');
    await stop(clicked);
    const resized = pages.from('steady').slice(steadyBefore).filter((w) => w.startsWith('resize'));
    assert.deepEqual(resized, [], 'the benign page kept its size');
    await victimOnAir();
  });

  it('a page cannot write to the node\'s disk: no downloads, storage in memory, its folder gone at the end', async () => {
    const artifactsBefore = readdirSync(tmpdir()).filter((d) => d.startsWith('playwright-artifacts-'));
    const key = attacker('disk');
    await start(key, '/disk');
    await waitFor('the page tried', async () => pages.from('disk').some((w) => w.startsWith('stored')), 30_000);
    await sleep(2000);
    assert.ok(pages.from('disk').includes('downloads asked'));
    const folder = browserOf(key).dir;
    const files = execFileSync('find', [folder, '-type', 'f', '-size', '+512k'], { encoding: 'utf8' }).trim();
    assert.equal(files, '', 'no large file in the browser\'s folder');
    const kb = Number(execFileSync('du', ['-sk', folder], { encoding: 'utf8' }).split('\t')[0]);
    assert.ok(kb < 20 * 1024, `the browser's folder holds ${kb} KiB`);
    assert.deepEqual(readdirSync(path.join(folder, 'downloads')), [], 'nothing was downloaded');
    assert.deepEqual(readdirSync(tmpdir()).filter((d) => d.startsWith('playwright-artifacts-') && !artifactsBefore.includes(d)), []);
    // Code out of the sandbox, as the browser's uid, points links in its folder at the node's
    // files: the service removes the folder as root, and must remove the links, not what they name.
    const node = mkdtempSync(path.join(tmpdir(), 'webcast-not-the-browsers-'));
    writeFileSync(path.join(node, 'keep.txt'), 'the node\'s');
    const uid = String(browserOf(key).uid);
    const asBrowser = (...cmd: string[]) => execFileSync('/usr/bin/setpriv', [...asUid(uid), ...cmd]);
    asBrowser('/bin/ln', '-s', node, path.join(folder, 'profile', 'to-a-folder'));
    asBrowser('/bin/ln', '-s', path.join(node, 'keep.txt'), path.join(folder, 'tmp', 'to-a-file'));
    // Nor can such code fill the node's disk or leave memory behind: its folder is in memory its
    // cgroup pays for, and the world-writable folders it sees are its own, in memory, gone with it.
    assert.equal(execFileSync('/usr/bin/stat', ['-f', '-c', '%T', folder], { encoding: 'utf8' }).trim(), 'tmpfs', 'the browser\'s folder is in memory');
    const mark = `escaped-${process.pid}`;
    const browserPid = mainPid(browserOf(key));
    // Each of them holds at most the page's memory (WEBCAST_PAGE_MEMORY_MB), whoever fills it.
    const mib = (statfs: string) => {
      const [blocks, size] = statfs.trim().split(' ').map(Number);
      return ((blocks ?? 0) * (size ?? 0)) / 2 ** 20;
    };
    assert.equal(mib(execFileSync('/usr/bin/stat', ['-f', '-c', '%b %S', folder], { encoding: 'utf8' })), PAGE_MEMORY_MB, 'the size of the browser\'s folder');
    for (const d of ['/tmp', '/var/tmp', '/dev/shm', '/run/lock']) {
      const seen = inBrowserNamespace(browserPid, browserOf(key).uid, `stat -f -c '%T %b %S' ${d}`);
      assert.equal(seen.stdout.split(' ')[0], 'tmpfs', `the browser's ${d}`);
      assert.equal(mib(seen.stdout.split(' ').slice(1).join(' ')), PAGE_MEMORY_MB, `the size of the browser's ${d}`);
    }
    assert.equal(inBrowserNamespace(browserPid, browserOf(key).uid, `for d in /tmp /var/tmp /dev/shm /run/lock; do echo x > $d/${mark} || exit 1; done`).status, 0);
    for (const d of ['/tmp', '/var/tmp', '/dev/shm', '/run/lock']) assert.equal(existsSync(path.join(d, mark)), false, `the browser's file is in the node's ${d}`);
    // Nor through another process's view of the files: /proc/PID/root of a process outside its
    // namespace (the machine's first process, the service) needs rights over that process.
    const nodeFile = path.join('/tmp', `${mark}-node`);
    writeFileSync(nodeFile, 'the node\'s /tmp');
    try {
      const inNamespace = (script: string) => inBrowserNamespace(browserPid, browserOf(key).uid, script);
      // The path itself leads there: root, in the same namespace, reads the file through the service's.
      assert.equal(execFileSync('/usr/bin/nsenter', [`--target=${browserPid}`, '--mount', '--', '/bin/cat', `/proc/${process.pid}/root${nodeFile}`], { encoding: 'utf8' }), 'the node\'s /tmp');
      for (const pid of [1, process.pid]) {
        const read = inNamespace(`cat /proc/${pid}/root${nodeFile}`);
        assert.notEqual(read.status, 0, `the browser's uid read the node's /tmp through /proc/${pid}/root: ${read.stdout}`);
        assert.doesNotMatch(read.stdout, /the node's/);
        assert.notEqual(inNamespace(`echo x > /proc/${pid}/root/tmp/${mark}-put`).status, 0, `the browser's uid wrote to the node's /tmp through /proc/${pid}/root`);
      }
      assert.equal(existsSync(`/tmp/${mark}-put`), false);
    } finally {
      rmSync(nodeFile, { force: true });
    }
    await stop(key);
    await waitFor('the folder removed', async () => !existsSync(folder), 5000);
    assert.ok(!readFileSync('/proc/self/mountinfo', 'utf8').includes(folder), 'the browser\'s folder is unmounted');
    assert.deepEqual(readdirSync(node), ['keep.txt'], 'what the links named is still there');
    assert.equal(readFileSync(path.join(node, 'keep.txt'), 'utf8'), 'the node\'s');
    await victimOnAir();
  });

  it('code out of a page\'s sandbox sees no process but its own browser\'s: not the service, not Janus, not another task\'s browser', async () => {
    const key = attacker('procs');
    await start(key, '/steady');
    const own = browserOf(key);
    const browserPid = mainPid(own);
    const listed = inBrowserNamespace(browserPid, own.uid, 'for p in /proc/[0-9]*; do echo ${p#/proc/}; done');
    assert.equal(listed.status, 0, listed.stderr);
    const seen = listed.stdout.split('\n').filter((l) => /^\d+$/.test(l)).map(Number);
    const others = [process.pid, ...browserOf(VICTIM).pids()];
    assert.ok(others.length > 1, 'the victim\'s browser has processes');
    assert.deepEqual(seen.filter((pid) => others.includes(pid)), [], 'processes of the node and of the other task are seen');
    assert.ok(seen.includes(browserPid ?? -1), `its own browser is seen (${seen.length} processes)`);
    // Nor their command lines (another browser's capture title is in its own).
    const read = inBrowserNamespace(browserPid, own.uid, `cat /proc/${mainPid(browserOf(VICTIM)) ?? 0}/cmdline`);
    assert.notEqual(read.status, 0, 'the other task\'s browser\'s command line was read');
    await stop(key);
    await victimOnAir();
  });

  it('code out of a page\'s sandbox reads none of the machine\'s sockets and interfaces: not where the node listens, not where another task connects', async () => {
    const key = attacker('sockets');
    await start(key, '/steady');
    const own = browserOf(key);
    const browserPid = mainPid(own);
    // A port the node listens on, and a connection of the node's (as the proxy's to a site another task's page loads).
    const server = net.createServer((socket) => socket.on('error', () => undefined));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    const client = net.connect(port, '127.0.0.1');
    await new Promise<void>((r) => client.once('connect', () => r()));
    try {
      const hexPort = `:${port.toString(16).toUpperCase().padStart(4, '0')} `;
      const tables = 'cat /proc/net/tcp /proc/net/tcp6 /proc/net/udp /proc/net/unix';
      const onNode = onNodeAs(own.uid, tables);
      assert.equal(onNode.status, 0, onNode.stderr);
      assert.ok(onNode.stdout.includes(hexPort), 'in the node\'s namespaces its uid reads the node\'s listening socket (the check works)');
      const inside = inBrowserNamespace(browserPid, own.uid, tables);
      assert.equal(inside.status, 0, inside.stderr);
      assert.ok(!inside.stdout.includes(hexPort), 'the node\'s listening socket and connection are in the browser\'s socket tables');
      assert.ok(inside.stdout.split('\n').length < onNode.stdout.split('\n').length, 'the browser sees fewer sockets than the node');
      // Nor the node's interfaces (their names, addresses and counters of all traffic).
      const nodeInterfaces = Object.keys(networkInterfaces()).filter((i) => i !== 'lo');
      assert.ok(nodeInterfaces.length > 0);
      const listed = inBrowserNamespace(browserPid, own.uid, 'ls /sys/class/net; cat /proc/net/dev');
      assert.equal(listed.status, 0, listed.stderr);
      for (const name of nodeInterfaces) assert.ok(!listed.stdout.includes(name), `the node's interface ${name} is seen: ${listed.stdout}`);
      // Nor an IPv6 address of any kind: its way out carries none.
      assert.equal(inBrowserNamespace(browserPid, own.uid, 'cat /proc/net/if_inet6').stdout, '', 'the browser\'s network has IPv6 addresses');
      // Its way out parses what the browser sends: slirp4netns runs as its uid with no
      // capability, under a seccomp filter, in a root like the browser's.
      const slirp = own.pids().find((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith(`${SLIRP4NETNS}\0`));
      assert.ok(slirp, 'the browser\'s slirp4netns is in its cgroup');
      const status = readFileSync(`/proc/${slirp}/status`, 'utf8');
      assert.match(status, new RegExp(`^Uid:\\t${own.uid}\\t${own.uid}\\t`, 'm'));
      assert.match(status, /^CapEff:\t0+$/m);
      assert.match(status, /^NoNewPrivs:\t1$/m);
      assert.match(status, /^Seccomp:\t2$/m);
      assert.ok(existsSync('/home') && !existsSync(`/proc/${slirp}/root/home`), 'slirp4netns sees the node\'s /home');
      assert.ok(existsSync(`/proc/${slirp}/root/dev/net/tun`), 'slirp4netns has its device');
      assert.ok(!existsSync(`/proc/${browserPid}/root/dev/net/tun`), 'the browser has slirp4netns\'s device');
    } finally {
      client.destroy();
      server.close();
    }
    await stop(key);
    await victimOnAir();
  });

  it('code out of a page\'s sandbox leaves nothing in the node\'s System V IPC: its shared memory and message queues are its browser\'s own, and go with it', async () => {
    const key = attacker('ipc');
    await start(key, '/steady');
    const { uid } = browserOf(key);
    const browserPid = mainPid(browserOf(key));
    // As the browser's uid, in its namespaces: 64 MiB of shared memory nobody attaches (which
    // would otherwise outlive the task, charged to nobody's cgroup), and a message queue.
    const made = inBrowserNamespace(browserPid, uid, 'ipcmk -M 67108864 && ipcmk -Q');
    assert.equal(made.status, 0, made.stderr);
    assert.match(made.stdout, /Shared memory id: \d+[\s\S]*Message queue id: \d+/);
    /** The node's System V IPC objects that the browser's uid made: `-m id` or `-q id`, as ipcrm takes them. */
    const theirs = () => ['-m', '-q'].flatMap((kind) => execFileSync('/usr/bin/ipcs', [kind, '-c'], { encoding: 'utf8' }).split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter((cols) => cols[2] === String(uid))
      .map((cols) => `${kind} ${cols[0] ?? ''}`));
    try {
      assert.deepEqual(theirs(), [], 'the node sees the browser\'s IPC objects while it runs');
      await stop(key);
      assert.deepEqual(theirs(), [], 'the browser\'s IPC objects outlived it');
    } finally {
      for (const object of theirs()) spawnSync('/usr/bin/ipcrm', object.split(' '));
    }
    await victimOnAir();
  });

  it('code out of a page\'s sandbox sees only the system\'s folders and its own, signals nothing outside, and reaches no UNIX socket of the node\'s, wherever its file is, nor one in the abstract namespace', async (t2) => {
    const { confinement } = await probeConfinement();
    if (!confinement || confinement.abi < SCOPED_ABI) return t2.skip(`needs Landlock ABI ${SCOPED_ABI} (Linux 6.12): ${confinement ? `ABI ${confinement.abi}` : 'none'}`);
    const key = attacker('landlock');
    await start(key, '/steady');
    const own = browserOf(key);
    const browserPid = mainPid(own);
    // World-readable, outside the system's own folders: what the node has installed.
    const secret = '/var/lib/dpkg/status';
    // The browser itself: its own file:// loads read through its processes. Where the service is
    // root the file is not in its root at all; under the unit, the domain refuses it.
    const context = await own.browser.newContext();
    try {
      const tab = await context.newPage();
      await tab.goto('file:///etc/os-release');
      assert.match(await tab.content(), /Debian/, 'the browser reads the system\'s folders');
      await assert.rejects(tab.goto(`file://${secret}`), /ERR_ACCESS_DENIED|ERR_FILE_NOT_FOUND/, `the browser read ${secret}`);
    } finally {
      await context.close();
    }
    // The domain on its own: code as its uid in the node's namespaces, which show what the
    // browser's root leaves out, with and without a domain as its launch makes one.
    const domain = confineCommand(own.dir, true);
    const asItsUid = (script: string) => onNodeAs(own.uid, script);
    const inDomain = (script: string) => asItsUid(`exec ${domain.map((a) => `'${a}'`).join(' ')} /bin/sh -c '${script}'`);
    assert.equal(asItsUid(`head -c 1 ${secret}`).status, 0, `outside the domain, ${secret} is world-readable`);
    const read = inDomain(`head -c 1 ${secret}`);
    assert.notEqual(read.status, 0, `${secret} was read in the domain`);
    assert.match(read.stderr, /Permission denied/);
    // Nor the other tasks' cgroups: which pids their browsers hold, how much memory they use.
    const victimGroup = readFileSync(`/proc/${mainPid(browserOf(VICTIM)) ?? 0}/cgroup`, 'utf8').split('\n').find((l) => l.includes(':memory:'))?.split(':')[2];
    assert.ok(victimGroup, 'the victim\'s browser has a memory cgroup');
    assert.equal(asItsUid(`cat /sys/fs/cgroup/memory${victimGroup}/cgroup.procs`).status, 0, 'outside the domain another browser\'s cgroup is readable');
    assert.notEqual(inDomain(`cat /sys/fs/cgroup/memory${victimGroup}/cgroup.procs`).status, 0, 'another browser\'s cgroup was read in the domain');
    // Nor signal a process made outside it, even one of its own uid.
    const outsider = spawn('/usr/bin/setpriv', [...asUid(own.uid), '/bin/sleep', '30'], { stdio: 'ignore' });
    try {
      await waitFor('the outsider runs as the browser\'s uid', async () => readFileSync(`/proc/${outsider.pid}/status`, 'utf8').includes(`\nUid:\t${own.uid}\t`), 5000);
      assert.equal(asItsUid(`kill -0 ${outsider.pid}`).status, 0, 'outside the domain, a process of its uid may be signalled');
      assert.notEqual(inDomain(`kill -0 ${outsider.pid}`).status, 0, 'a process made outside the domain was signalled from it');
    } finally {
      outsider.kill('SIGKILL');
    }
    // The node's folders outside the system's do not exist in its root: not even their names.
    const nodeOnly = ['/home', '/root', '/opt', '/srv', '/var/lib/dpkg', '/var/log', process.cwd()].filter((p) => existsSync(p));
    assert.ok(nodeOnly.length >= 3, `the node has folders of its own (${nodeOnly.join(', ')})`);
    for (const p of nodeOnly) assert.notEqual(inBrowserNamespace(browserPid, own.uid, `test -e '${p}'`).status, 0, `${p} exists in the browser's root`);
    // UNIX sockets: one in the abstract namespace has no permissions, anyone on the machine may
    // connect; socket files that any user may connect to, in /run (where the machine keeps
    // them) and in a folder of the node's elsewhere (as /var/lib/mysql, /home/*/.docker).
    const name = `webcast-hostile-${process.pid}`;
    const socketFolder = `/var/lib/${name}`;
    mkdirSync(socketFolder, { mode: 0o755 });
    const socketFiles = [`/run/${name}.sock`, `${socketFolder}/node.sock`];
    let connections = 0;
    const listen = async (at: string) => {
      const listener = net.createServer((c) => { connections += 1; c.destroy(); });
      await new Promise<void>((resolve) => listener.listen({ path: at }, resolve));
      return listener;
    };
    const listeners = [await listen(`\0${name}`), ...(await Promise.all(socketFiles.map(listen)))];
    for (const file of socketFiles) chmodSync(file, 0o777);
    const dial = (at: string) => `${process.execPath} -e "require(\\"net\\").connect({ path: \\"${at}\\" }).on(\\"connect\\", () => { console.log(\\"connected\\"); process.exit(0); }).on(\\"error\\", (e) => { console.log(e.code); process.exit(1); })"`;
    try {
      const outside = asItsUid(dial(`\\\\0${name}`));
      assert.equal(outside.stdout.trim(), 'connected', `outside the domain: ${outside.stdout}${outside.stderr}`);
      const inside = inDomain(dial(`\\\\0${name}`));
      assert.equal(inside.stdout.trim(), 'EPERM', `in the domain: ${inside.stdout}${inside.stderr}`);
      // The abstract namespace is a network namespace's: from the browser's own, even outside
      // the domain (a kernel before 6.12 scopes none), the node's abstract sockets are not there.
      const fromItsNetwork = inBrowserNamespace(browserPid, own.uid, dial(`\\\\0${name}`));
      assert.equal(fromItsNetwork.stdout.trim(), 'ECONNREFUSED', `from the browser's network: ${fromItsNetwork.stdout}${fromItsNetwork.stderr}`);
      // A datagram needs no connection: the kernel checks it on another path (sendto).
      const probe = path.join(own.dir, 'datagram.py');
      writeFileSync(probe, [
        'import errno, socket, sys',
        'try:',
        '    socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(sys.argv[2].encode(), b"\\0" + sys.argv[1].encode())',
        '    print("sent")',
        'except OSError as e:',
        '    print(errno.errorcode[e.errno])',
      ].join('\n'), { mode: 0o644 });
      const datagrams = spawn('/usr/bin/python3', ['-c', [
        'import socket, sys',
        's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
        's.bind(b"\\0" + sys.argv[1].encode())',
        'print("ready", flush=True)',
        'n = 0',
        'while s.recv(16) != b"end": n += 1',
        'print(n, flush=True)',
      ].join('\n'), `${name}-datagrams`]);
      try {
        let heard = '';
        datagrams.stdout.on('data', (d: Buffer) => { heard += d.toString(); });
        await waitFor('the datagram listener', async () => heard.startsWith('ready'), 5000);
        const send = (run: (script: string) => { stdout: string }, payload: string) => run(`/usr/bin/python3 ${probe} ${name}-datagrams ${payload}`).stdout.trim();
        assert.equal(send(asItsUid, 'x'), 'sent', 'outside the domain, a datagram reaches an abstract socket');
        assert.equal(send(inDomain, 'x'), 'EPERM', 'a datagram from the domain reached an abstract socket');
        assert.equal(send(asItsUid, 'end'), 'sent');
        await waitFor('the count of datagrams', async () => heard.trim().split('\n').length === 2, 5000);
        assert.equal(heard.trim().split('\n')[1], '1', 'only the datagram from outside the domain arrived');
      } finally {
        datagrams.kill();
      }
      // The socket files: the browser's uid reaches them from the node's mount namespace, not from its browser's.
      for (const file of socketFiles) {
        const fromNode = asItsUid(dial(file));
        assert.equal(fromNode.stdout.trim(), 'connected', `${file} from the node's namespace: ${fromNode.stdout}${fromNode.stderr}`);
        const fromBrowser = inBrowserNamespace(browserPid, own.uid, dial(file));
        assert.equal(fromBrowser.stdout.trim(), 'ENOENT', `${file} from the browser's namespace: ${fromBrowser.stdout}${fromBrowser.stderr}`);
      }
      await waitFor('the connections from outside', async () => connections === 1 + socketFiles.length, 5000);
      await sleep(300);
      assert.equal(connections, 1 + socketFiles.length, 'a connection from the browser\'s namespace or domain reached a listener');
    } finally {
      for (const l of listeners) l.close();
      rmSync(socketFolder, { recursive: true, force: true });
      for (const file of socketFiles) rmSync(file, { force: true });
    }
    await stop(key);
    await victimOnAir();
  });

  it('a page over its memory limit is rescheduled, then fails saying why, whether or not CrashCheckInterval is set', async () => {
    const key = attacker('memory');
    const res = await sdkClient(t.host).start({ ...key, UserId: 'memory', SourceURL: `${pages.url}/memory`, ...small });
    assert.equal(res.Result, 'ok');
    const ended = await waitFor('the task failed', async () => {
      const task = await getTask(t.host, key);
      return task?.Status === 4 && task;
    }, 90_000, 500);
    assert.equal(ended.StopReason, 'PageCrash');
    const stored = await t.node.store.get(key);
    assert.match(stored?.FailureDetail ?? '', new RegExp(`more than its ${PAGE_MEMORY_MB} MB of memory \\(WEBCAST_PAGE_MEMORY_MB\\)`));
    const reschedules = (await t.node.store.callbacksOf(key)).filter((c) => c.event.EventType === 'WebcastReschedule');
    assert.equal(reschedules.length, 1, 'the one reschedule WEBCAST_MAX_RESCHEDULES allows is told');
    assert.equal(reschedules[0]?.event.EventData.Reason, 'PageCrash');
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    const crashes = Number(/webcast_page_crashes_total\{cause="memory",node="[^"]+"\} (\d+)/.exec(metrics)?.[1] ?? 0);
    assert.ok(crashes >= 2, `${crashes} out-of-memory crashes counted`);
    await victimOnAir();
  });

  // No page can fork: its renderer's seccomp filter refuses it (checked above). This plays code
  // that got out of the sandbox into its browser's own processes, as the browser's uid, and
  // forks as fast as it can.
  it('code that got out of a page\'s sandbox cannot fill the machine with processes: its browser holds at most BROWSER_MAX_PIDS, and none outlive the task', async (t2) => {
    const key = attacker('forks');
    await start(key, '/steady');
    const browser = browserOf(key);
    const [first] = browser.pids();
    assert.ok(first !== undefined && browser.uid !== undefined);
    // The browser's own groups, which the loop joins before it becomes the browser's uid.
    const procsFiles = readFileSync(`/proc/${first}/cgroup`, 'utf8')
      .split('\n')
      .map((line) => /^\d+:([^:]*):(.*webcast-.*)$/.exec(line))
      .flatMap((m) => (m ? [path.join('/sys/fs/cgroup', m[1] ?? '', m[2] ?? '', 'cgroup.procs')] : []));
    assert.ok(procsFiles.length >= 2, procsFiles.join(' '));
    // Such code cannot leave its groups for their parent (the service's), nor lift their limits:
    // the groups' files are root's.
    const asBrowserInGroups = (file: string, value: string) => {
      const [command = '', ...args] = inBrowserGroups(browser.uid, procsFiles, '/bin/sh', '-c', 'v=$V; [ "$v" = self ] && v=$$; echo "$v" > "$T"');
      return spawnSync(command, args, { env: { PATH: '/usr/bin:/bin', V: value, T: file }, encoding: 'utf8' });
    };
    assert.equal(asBrowserInGroups('/dev/null', 'self').status, 0, 'the same command writes where the uid may');
    for (const procs of procsFiles) {
      const group = path.dirname(procs);
      const parent = asBrowserInGroups(path.join(path.dirname(group), 'cgroup.procs'), 'self');
      assert.notEqual(parent.status, 0, `the browser's uid moved itself out of ${group}`);
      assert.match(parent.stderr, /Permission denied/);
      for (const [limit, value] of [['pids.max', 'max'], ['memory.limit_in_bytes', '-1'], ['memory.max', 'max'], ['cpu.cfs_quota_us', '-1'], ['cpu.max', 'max']] as const) {
        if (!existsSync(path.join(group, limit))) continue;
        const before = readFileSync(path.join(group, limit), 'utf8');
        assert.notEqual(asBrowserInGroups(path.join(group, limit), value).status, 0, `the browser's uid lifted its ${limit}`);
        assert.equal(readFileSync(path.join(group, limit), 'utf8'), before);
      }
    }
    const forks = 2 * BROWSER_MAX_PIDS;
    const loop = `$| = 1; for (1..${forks}) { my $p = fork(); if (!defined $p) { $failed++ } elsif ($p == 0) { sleep 600; exit 0 } } print "failed $failed\\n"; sleep 600`;
    const [command = '', ...args] = inBrowserGroups(browser.uid, procsFiles, '/usr/bin/perl', '-e', loop);
    const bomb = spawn(command, args, {
      env: { PATH: '/usr/bin:/bin' },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let out = '';
    bomb.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await waitFor('the fork loop done', async () => out.includes('failed'), 60_000, 200);
      const failed = Number(/failed (\d*)/.exec(out)?.[1] || 0);
      const theirs = browser.pids();
      const alive = () => theirs.filter((pid) => existsSync(`/proc/${pid}`) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('/usr/bin/perl'));
      t2.diagnostic(`${failed} of ${forks} forks refused; ${alive().length} forked processes in the browser's group`);
      assert.ok(failed > 0, `all ${forks} forks went through (${theirs.length} processes in the browser's group)`);
      assert.ok(alive().length < BROWSER_MAX_PIDS, `${alive().length} forked processes`);
      await victimOnAir();
      await stop(key);
      await waitFor('no forked process left', async () => alive().length === 0, 10_000);
    } finally {
      bomb.kill('SIGKILL');
    }
  });

  // The hog's task is a small layer: its CPU ceiling is the least there is, one core of two.
  it('a page that spins every core, in its own process and a cross-site frame\'s, is held to its CPU ceiling and does not take the benign task below 90 % of its frame rate', async () => {
    const throttled = async () => Number(/webcast_task_cpu_throttled_seconds_total\{node="[^"]+"\} ([\d.e+-]+)/.exec(await (await fetch(`${t.url}/metrics`)).text())?.[1] ?? NaN);
    const before = await throttled();
    const key = attacker('cpu');
    await start(key, '/cpu');
    await waitFor('spinning', async () => ['spinning', 'frame spinning'].every((w) => pages.from('cpu').includes(w)), 10_000);
    await sleep(2000);
    // Every process the hog's browser started, whether or not it stayed in the browser's cgroup.
    const inGroup = browserOf(key).pids();
    const hog = tree(inGroup);
    assert.deepEqual(hog.filter((p) => !inGroup.includes(p)), [], 'every process of the hog\'s browser is in its cgroup');
    const t0 = cpuTicks(hog);
    const started = Date.now();
    const fps = await victimOnAir();
    const seconds = (Date.now() - started) / 1000;
    const cores = [...cpuTicks(hog)].map(([pid, ticks]) => ({ pid, cores: (ticks - (t0.get(pid) ?? ticks)) / TICKS_PER_SECOND / seconds }));
    const hogCores = cores.reduce((a, c) => a + c.cores, 0);
    const spinners = cores.filter((c) => c.cores > 0.1 && chromiumRole(c.pid) === 'renderer');
    assert.ok(spinners.length >= 2, `the page and its cross-site frame spin in renderers of their own (${JSON.stringify(cores)})`);
    assert.ok(hogCores > 0.5, `the hog ran (${hogCores.toFixed(2)} cores)`);
    assert.ok(hogCores <= 1.05, `the hog took ${hogCores.toFixed(2)} cores, over its ceiling of 1`);
    // The operator sees it (the watch counts every 2 s).
    await waitFor('the throttling counted', async () => (await throttled()) > before, 5000);
    t.logs.push(JSON.stringify({ msg: 'cpu hog measured', hogCores, spinners: spinners.length, victimFps: fps }));
    await stop(key);
  });

  describe('page WebRTC', () => {
    let host: TestHost | undefined;
    // Another node of the machine whose WEBCAST_URL_ALLOWLIST opens loopback to its own pages:
    // what it opens must not open for this node's pages.
    let neighbour: TestNode | undefined;
    before(async () => {
      host = startTestHost();
      neighbour = await startTestNode({ env: { WEBCAST_WORKER: 'true', WEBCAST_URL_ALLOWLIST: `127.0.0.1,::1,${PAGES_HOST}` } });
    });
    after(async () => {
      host?.close();
      await neighbour?.close();
    });

    /** Runs the WebRTC page (`query`: its targets and rounds) as `key` on `node` until it is done. */
    async function runWebrtcPage(node: TestNode, key: typeof VICTIM, query: string): Promise<void> {
      const res = await sdkClient(node.host).start({ ...key, UserId: `${key.AppId}-${key.TaskId}`, SourceURL: `${pages.url}/webrtc?${query}&id=${key.TaskId}`, ...small });
      assert.equal(res.Result, 'ok', JSON.stringify(res.ResponseMetadata.Error));
      await waitFor(`${key.TaskId} on air`, async () => (await getTask(node.host, key))?.Status === 2, 30_000);
      await waitFor(`${key.TaskId}'s page done`, async () => pages.from('webrtc').includes(`done ${key.TaskId}`), 40_000, 500);
      await sdkClient(node.host).stop(key);
      await waitFor(`${key.TaskId} ended`, async () => (await getTask(node.host, key))?.Status === 3, 15_000);
    }

    it('gets nothing of what another node of the machine opens to its own pages', async () => {
      if (!neighbour) throw new Error('no neighbour');
      // A listener for each node's page, both on loopback, both pages at once.
      const [theirs, ours] = [await loopbackListeners(), await loopbackListeners()];
      try {
        await Promise.all([
          runWebrtcPage(neighbour, { AppId: 'neighbour', RoomId: 'next-door', TaskId: 'opened' }, `udp=${theirs.udp}&tcp=${theirs.tcp}&rounds=3`),
          runWebrtcPage(t, attacker('webrtc-next-door'), `udp=${ours.udp}&tcp=${ours.tcp}&rounds=3`),
        ]);
        // (Its ::1 is its own network's: a browser's network has no way out over IPv6.)
        assert.ok(theirs.hits().udp4 > 0, 'the neighbour\'s own page reached the node\'s 127.0.0.1, which its allowlist opens (the check works)');
        assert.deepEqual(ours.hits(), { udp4: 0, udp6: 0, tcp4: 0, tcp6: 0, udp: 0, tcp: 0 }, 'this node\'s page reached loopback through the neighbour\'s allowlist');
      } finally {
        theirs.close();
        ours.close();
      }
      await victimOnAir();
    });

    it('reaches a public host, but not loopback, not the node\'s own addresses, and shows no address of the node', async () => {
      if (!host) throw new Error('no test host');
      const loop = await loopbackListeners();
      const own = Object.values(networkInterfaces()).flat().filter((i) => i && !i.internal && i.family === 'IPv4').map((i) => i?.address ?? '');
      const nodeUdp = dgram.createSocket('udp4');
      let nodeHits = 0;
      const senders = new Set<string>();
      nodeUdp.on('message', (_m, from) => {
        nodeHits += 1;
        senders.add(`${from.address}:${from.port}`);
      });
      await new Promise<void>((r) => nodeUdp.bind(0, '0.0.0.0', r));
      const publicListener = await host.listenUdp(3478);
      try {
        const udpTargets = [loop.udp, ...own.map((a) => `${a}:${nodeUdp.address().port}`), `${host.address}:3478`];
        // What the WebRTC page reported before (another test's run of it), left out.
        const earlier = pages.from('webrtc').length;
        await runWebrtcPage(t, attacker('webrtc'), `udp=${udpTargets.join(',')}&tcp=${loop.tcp}`);
        assert.ok(publicListener.count() > 0, 'the public test host was reached (the check works)');
        assert.equal(loop.hits().udp, 0, 'no datagram reached loopback');
        assert.equal(loop.hits().tcp, 0, 'no connection reached loopback');
        assert.equal(nodeHits, 0, `no datagram reached the node's own addresses (from ${[...senders].join(', ')})`);
        const candidates = pages.from('webrtc').slice(earlier).filter((w) => w.startsWith('candidate'));
        assert.ok(candidates.length > 0);
        for (const c of candidates) for (const a of [...own, '127.0.0.1']) assert.ok(!c.includes(` ${a} `), `a candidate shows ${a}: ${c}`);
      } finally {
        publicListener.close();
        loop.close();
        nodeUdp.close();
      }
      await victimOnAir();
    });

    it('a page that plays a live WebRTC stream from a public host keeps working', async () => {
      if (!host) throw new Error('no test host');
      const server = await host.launchChromium();
      try {
        const sender = await server.newPage();
        await sender.route('https://sender.test/**', (r) => r.fulfill({ contentType: 'text/html', body: '<!doctype html><title>sender</title>' }));
        await sender.goto('https://sender.test/');
        // A green picture with a moving white square, as a public media server would send.
        pages.signal.offer = await sender.evaluate(async () => {
          const c = document.createElement('canvas');
          c.width = 320;
          c.height = 180;
          const g = c.getContext('2d');
          setInterval(() => {
            if (!g) return;
            g.fillStyle = 'rgb(0,200,0)';
            g.fillRect(0, 0, 320, 180);
            g.fillStyle = '#fff';
            g.fillRect((Date.now() / 10) % 300, 0, 20, 20);
          }, 40);
          const pc = new RTCPeerConnection();
          (window as unknown as { pc: RTCPeerConnection }).pc = pc;
          c.captureStream(25).getTracks().forEach((track) => pc.addTrack(track));
          await pc.setLocalDescription(await pc.createOffer());
          await new Promise<void>((r) => {
            pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && r();
            setTimeout(r, 3000);
          });
          return pc.localDescription?.sdp ?? '';
        });
        assert.match(pages.signal.offer, new RegExp(`${host.address.replace(/\./g, '\\.')} \\d+ typ host`), 'the sender offers its public address');
        const key = { AppId: 'customer', RoomId: 'stream', TaskId: 'viewer' };
        await start(key, '/webrtc-viewer');
        const answer = await waitFor('the page\'s answer', async () => pages.signal.answer, 15_000);
        await sender.evaluate((sdp) => (window as unknown as { pc: RTCPeerConnection }).pc.setRemoteDescription({ type: 'answer', sdp }), answer);
        await waitFor('the page connected', async () => pages.from('viewer').includes('connection connected'), 15_000);
        if (!t.node.worker) throw new Error('no worker');
        const sub = await Subscriber.join(t.node.worker.rooms, { appId: key.AppId, roomId: key.RoomId }, `${key.AppId}-${key.TaskId}`);
        try {
          await sub.waitForVideo((v) => v.framesDecoded > 10);
          const green = await waitFor('the stream in the room', async () => {
            const [r, gr, b] = await sub.pixel(0.5, 0.7);
            return (r ?? 255) < 60 && (gr ?? 0) > 150 && (b ?? 255) < 60 && [r, gr, b];
          }, 15_000, 500);
          assert.ok(green);
        } finally {
          await sub.leave();
        }
        await stop(key);
      } finally {
        await server.close();
      }
    });
  });
});
