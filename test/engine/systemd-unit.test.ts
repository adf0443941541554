import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { sdkClient, waitFor } from '../helpers/node.js';
import { startPageServer, type PageServer } from '../helpers/pages.js';
import { allPids, cmdline, tree } from '../helpers/procfs.js';
import { WhepPlayer } from '../helpers/subscriber.js';
import { testBrowserUids } from '../helpers/uid-range.js';
import { viewerToken } from '../helpers/viewer-link.js';

/**
 * The unit the README installs (deploy/webcast.service), started by systemd itself: Debian's
 * systemd as PID 1 of a container (systemd-nspawn) whose root is this machine's own, seen
 * through an overlay, with the checkout at /opt/webcast as the README installs it. The container
 * shares the machine's network (the test reaches the service on loopback) and gets
 * /dev/net/tun. What is the container's and not the unit's: nspawn's system call filter lacks
 * Landlock's calls (added here, but for the run that plays a kernel without Landlock), and it
 * mounts /proc/sys read-only (writable here, as on a machine). Its node has a PID namespace
 * of its own on the machine's network, beside the other test files' nodes: none takes another's
 * firewall rules for a dead node's (browser-firewall.ts).
 */

const ROOT_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const skip = process.getuid?.() !== 0 ? 'needs root, to boot systemd in a container'
  : !existsSync('/usr/bin/systemd-nspawn') ? 'needs systemd-nspawn (npm run setup installs systemd-container)' : false;
const keys = { accessKey: 'AKSYSTEMDUNIT0001', secretKey: 'systemd-unit-test-secret-key-01' };
const MASKED = [
  'systemd-sysctl.service', 'systemd-binfmt.service', 'proc-sys-fs-binfmt_misc.automount', 'systemd-modules-load.service',
  'systemd-udevd.service', 'systemd-udevd-control.socket', 'systemd-udevd-kernel.socket', 'systemd-udev-trigger.service', 'systemd-udev-settle.service',
  'systemd-timesyncd.service', 'systemd-pstore.service',
];
const CAPS = ['CHOWN', 'DAC_OVERRIDE', 'KILL', 'SETGID', 'SETUID', 'NET_ADMIN', 'NET_RAW'];
const CAP_NUMBERS: Record<string, number> = { CHOWN: 0, DAC_OVERRIDE: 1, KILL: 5, SETGID: 6, SETUID: 7, NET_ADMIN: 12, NET_RAW: 13 };

// And once on a kernel without Landlock, as nspawn's own filter makes it: the helper still makes
// each browser's namespaces.
for (const landlock of [true, false]) describe(`the systemd unit, started by systemd${landlock ? '' : ', on a kernel without Landlock'}`, { timeout: 300_000, skip }, () => {
  const work = mkdtempSync(path.join(tmpdir(), 'webcast-systemd-'));
  const root = path.join(work, 'root');
  let container: ChildProcess | undefined;
  let init = 0;
  let pages: PageServer;
  let host = '';
  /** A command run in the container's namespaces. */
  const inside = (...args: string[]): string => execFileSync('/usr/bin/nsenter', ['-t', String(init), '-a', ...args], { encoding: 'utf8' });
  const journal = () => inside('journalctl', '-u', 'webcast', '--no-pager', '-o', 'cat');
  /** Where each start of the service listened (WEBCAST_PORT=0: a port of its own each time). */
  const listening = () => [...journal().matchAll(/webcast OpenAPI listening on (http:\/\/\S+)/g)].map((m) => new URL(m[1] ?? '').host);
  const status = async (key: { AppId: string; RoomId: string; TaskId: string }) => {
    const res = await sdkClient(host, keys).get(key).catch(() => undefined);
    return (res?.Result as { WebCastTask?: { Status: number; StopReason: string } } | undefined)?.WebCastTask;
  };

  /** The unit's main process, as this machine numbers it (systemd names it as the container does). */
  const servicePid = (): number => {
    const mainPid = inside('systemctl', 'show', '-p', 'MainPID', '--value', 'webcast').trim();
    const pid = allPids().find((p) => {
      try {
        return readlinkSync(`/proc/${p}/ns/pid`) === readlinkSync(`/proc/${init}/ns/pid`) && new RegExp(`^NSpid:\\s.*\\s${mainPid}$`, 'm').test(readFileSync(`/proc/${p}/status`, 'utf8'));
      } catch {
        return false;
      }
    });
    assert.ok(pid, `the service's process (${mainPid} in the container)`);
    return pid;
  };

  before(async () => {
    pages = await startPageServer();
    for (const d of ['upper', 'work', 'root']) mkdirSync(path.join(work, d));
    execFileSync('mount', ['-t', 'overlay', 'webcast-systemd', '-o', `lowerdir=/,upperdir=${work}/upper,workdir=${work}/work`, root]);
    // Only what the unit needs at boot: not the machine's own services and timers, and nothing
    // that would set the machine's own kernel (sysctl settings are global but for the network's,
    // binfmt handlers, modules) or its devices (udev, with a writable /sys), which the container
    // shares with it.
    for (const wants of ['multi-user.target.wants', 'timers.target.wants']) rmSync(path.join(root, 'etc/systemd/system', wants), { recursive: true, force: true });
    for (const unit of MASKED) symlinkSync('/dev/null', path.join(root, 'etc/systemd/system', unit));
    execFileSync('chroot', [root, 'useradd', '--system', '--no-create-home', '--shell', '/usr/sbin/nologin', 'webcast']);
    mkdirSync(path.join(root, 'etc/webcast'), { recursive: true });
    const env = {
      WEBCAST_ACCESS_KEY: keys.accessKey,
      WEBCAST_SECRET_KEY: keys.secretKey,
      WEBCAST_URL_ALLOWLIST: '127.0.0.1',
      WEBCAST_PORT: '0',
      WEBCAST_BROWSER_UIDS: testBrowserUids(),
    };
    writeFileSync(path.join(root, 'etc/webcast/webcast.env'), Object.entries(env).map(([k, v]) => `${k}=${v}\n`).join(''), { mode: 0o600 });
    writeFileSync(path.join(root, 'etc/systemd/system/webcast.service'), readFileSync(path.join(ROOT_DIR, 'deploy/webcast.service')));
    mkdirSync(path.join(root, 'opt/webcast'), { recursive: true });
    container = spawn('/usr/bin/systemd-nspawn', [
      // The capabilities a container has by nspawn's default, and CAP_NET_ADMIN for the unit's
      // firewall on the machine's network (not CAP_SYS_MODULE or CAP_SYS_TIME).
      '-D', root, '--boot', '--register=no', '--keep-unit', '--console=read-only', '--capability=CAP_NET_ADMIN',
      `--bind-ro=${ROOT_DIR}:/opt/webcast`, '--bind=/dev/net/tun',
      ...(landlock ? ['--system-call-filter=landlock_create_ruleset landlock_add_rule landlock_restrict_self'] : []),
    ], { env: { ...process.env, SYSTEMD_NSPAWN_API_VFS_WRITABLE: '1' }, stdio: ['ignore', 'ignore', 'pipe'] });
    let errors = '';
    container.stderr?.on('data', (d: Buffer) => (errors += d.toString()));
    await waitFor('systemd up in the container', async () => {
      if (container?.exitCode !== null) throw new Error(`systemd-nspawn exited: ${errors}`);
      init = allPids().find((pid) => {
        try {
          return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[1] === String(container?.pid) && readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'systemd';
        } catch {
          return false;
        }
      }) ?? 0;
      if (!init) return false;
      try {
        return /running|degraded/.test(inside('systemctl', 'is-system-running'));
      } catch (err) {
        return /running|degraded/.test(String((err as { stdout?: string }).stdout));
      }
    }, 60_000, 500);
  });

  after(async () => {
    if (init) {
      try {
        inside('systemctl', 'stop', 'webcast');
        inside('systemctl', 'poweroff');
      } catch {
        container?.kill('SIGKILL');
      }
    }
    if (container && container.exitCode === null) await new Promise((r) => container?.once('exit', r));
    execFileSync('umount', ['--lazy', root]);
    rmSync(work, { recursive: true, force: true });
    await pages.close();
  });

  it('runs the service as its user with the unit\'s capabilities; its tasks go on air, a viewer decodes them, and a restart resumes them', async () => {
    inside('systemctl', 'start', 'webcast');
    host = await waitFor('the service listening', async () => listening()[0], 60_000, 500).catch((err: Error) => {
      throw new Error(`${err.message}; its journal ends:\n${journal().split('\n').slice(-30).join('\n')}`);
    });
    const log = journal();
    assert.match(log, /no CAP_SYS_ADMIN: each browser gets a root and a folder in memory of its own in a user namespace/);
    assert.match(log, /each browser gets a network namespace of its own/);
    assert.doesNotMatch(log, /not confined|share the node's network|failed to start|no user namespaces/, 'every guard is in place but the cgroups (cgroup v1 here), and Landlock where the kernel has none');
    if (landlock) assert.doesNotMatch(log, /no Landlock/);
    else assert.match(log, /no Landlock domain for the browsers/, 'the service says the kernel has no Landlock');

    const service = servicePid();
    const field = (pid: number, name: string) => new RegExp(`^${name}:\\s+(\\S+)`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '';
    const webcastUid = Number(inside('id', '-u', 'webcast').trim());
    assert.equal(Number(field(service, 'Uid')), webcastUid, 'the service runs as webcast');
    const caps = CAPS.reduce((m, c) => m | (1n << BigInt(CAP_NUMBERS[c] ?? 0)), 0n);
    assert.equal(BigInt(`0x${field(service, 'CapEff')}`), caps, 'with the unit\'s seven capabilities, no more');
    assert.equal(field(service, 'NoNewPrivs'), '1');

    const key = { AppId: 'app1', RoomId: 'room1', TaskId: 'unit' };
    const started = await sdkClient(host, keys).start({ ...key, UserId: 'u', SourceURL: `${pages.url}/tone`, VideoSolutions: [{ Width: 640, Height: 360, FrameRate: 15 }] });
    assert.equal(started.Result, 'ok', JSON.stringify(started.ResponseMetadata.Error));
    await waitFor('on air', async () => (await status(key))?.Status === 2, 30_000);
    const watch = async () => {
      const player = await WhepPlayer.play(`http://${host}/whep/app1/room1/u`, await viewerToken(`http://${host}`, keys, 'app1', 'room1'));
      try {
        const v = await player.waitForVideo((x) => x.framesDecoded >= 20 && x.width === 640, 30_000);
        assert.deepEqual([v.width, v.height], [640, 360], `a viewer decodes the page at its size (${JSON.stringify(v)})`);
      } finally {
        await player.close();
      }
    };
    await watch();

    // Its browser: a uid of its own, no capability, its own user and network namespaces.
    const browser = tree([service]).find((pid) => cmdline(pid).startsWith('/usr/lib/chromium/chromium ') && !cmdline(pid).includes('--type='));
    assert.ok(browser, 'the task\'s browser runs');
    assert.ok(![0, webcastUid].includes(Number(field(browser, 'Uid'))), `the browser runs as a uid of its own (${field(browser, 'Uid')})`);
    assert.equal(BigInt(`0x${field(browser, 'CapEff')}`), 0n);
    for (const ns of ['user', 'net', 'mnt']) assert.notEqual(readlinkSync(`/proc/${browser}/ns/${ns}`), readlinkSync(`/proc/${service}/ns/${ns}`), `its ${ns} namespace is its own`);

    // systemctl restart: SIGTERM takes the task off air without ending it, the next start resumes it.
    inside('systemctl', 'restart', 'webcast');
    host = await waitFor('the service listening again', async () => listening()[1], 60_000, 500);
    await waitFor('back on air', async () => (await status(key))?.Status === 2, 30_000);
    assert.match(journal(), /"resumed":1/);
    await watch();
    await sdkClient(host, keys).stop(key);
    await waitFor('ended', async () => (await status(key))?.Status === 3, 15_000);
    assert.equal((await status(key))?.StopReason, 'StopByAPI');
    assert.ok(!journal().includes(keys.secretKey), 'the secret key is not in the journal');

    // systemctl stop leaves nothing of the service running: its warm browser, slirp4netns, Janus.
    const processes = tree([servicePid()]);
    assert.ok(processes.some((pid) => /chromium/.test(cmdline(pid))) && processes.some((pid) => /janus/.test(cmdline(pid))), 'the service runs a browser and Janus (the check works)');
    inside('systemctl', 'stop', 'webcast');
    const left = processes.filter((pid) => existsSync(`/proc/${pid}`));
    assert.deepEqual(left.map((pid) => cmdline(pid).slice(0, 80)), [], 'processes of the service outlived its stop');
  });
});
