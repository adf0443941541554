import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { networkStackDomain } from '../../src/capture/browser-confinement.js';
import { SLIRP4NETNS } from '../../src/capture/browser-network.js';
import { nodeKey } from '../../src/capture/cloud-browser.js';
import { sdkClient, waitFor } from '../helpers/node.js';
import { startPageServer, type PageServer } from '../helpers/pages.js';
import { WhepPlayer } from '../helpers/subscriber.js';
import { inMountNamespace, spawnService, SYS_AS_SYSTEMD_MOUNTS_IT } from '../helpers/process.js';
import { viewerToken } from '../helpers/viewer-link.js';
import { allPids, cmdline, pidsWhere, tree } from '../helpers/procfs.js';

/**
 * The service as the systemd unit runs it: an unprivileged user of its own, with only the
 * capabilities it needs to give every browser a user, a cgroup and firewall rules of its own.
 */

const notRoot = process.getuid?.() !== 0 && 'needs root, to start the service as another user with capabilities';
const SERVICE_UID = 2001000000;
const CAPS = ['chown', 'dac_override', 'kill', 'setgid', 'setuid', 'net_admin', 'net_raw'];
const keys = { accessKey: 'AKUNPRIVILEGED001', secretKey: 'unprivileged-test-secret-key-001' };

const status = (pid: number) => readFileSync(`/proc/${pid}/status`, 'utf8');
const field = (pid: number, name: string) => new RegExp(`^${name}:\\s+(.*)$`, 'm').exec(status(pid))?.[1] ?? '';
const uidOf = (pid: number) => Number(field(pid, 'Uid').split(/\s+/)[0]);

describe('the service as an unprivileged user with capabilities', { timeout: 120_000, skip: notRoot }, () => {
  let pages: PageServer;
  const dataDir = mkdtempSync(path.join(tmpdir(), 'webcast-unprivileged-'));
  before(async () => {
    pages = await startPageServer();
    chownSync(dataDir, SERVICE_UID, SERVICE_UID);
  });
  after(async () => {
    await pages.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('isolates every browser as root would: its own uid without capabilities, its cgroup, its firewall rules', async () => {
    const caps = CAPS.map((c) => `+${c}`).join(',');
    const service = await spawnService(
      { WEBCAST_WORKER: 'true', WEBCAST_DATA_DIR: dataDir, WEBCAST_ACCESS_KEY: keys.accessKey, WEBCAST_SECRET_KEY: keys.secretKey, WEBCAST_URL_ALLOWLIST: '127.0.0.1', HOME: dataDir },
      undefined,
      [...inMountNamespace(SYS_AS_SYSTEMD_MOUNTS_IT), '/usr/bin/setpriv', `--reuid=${SERVICE_UID}`, `--regid=${SERVICE_UID}`, '--clear-groups', `--inh-caps=${caps}`, `--ambient-caps=${caps}`, '--'],
    );
    try {
      assert.equal(uidOf(service.child.pid ?? 0), SERVICE_UID, 'the service runs as its own unprivileged user');
      const key = { AppId: 'app1', RoomId: 'room1', TaskId: 'unprivileged' };
      await sdkClient(service.host, keys).start({ ...key, UserId: 'u', SourceURL: `${pages.url}/tone`, VideoSolutions: [{ Width: 320, Height: 180, FrameRate: 10 }] });
      await waitFor('on air', async () => ((await sdkClient(service.host, keys).get(key)).Result as { WebCastTask?: { Status: number } } | undefined)?.WebCastTask?.Status === 2, 30_000);

      // What leaves the browser's network reaches the room: a real player decodes its frames.
      const base = `http://${service.host}`;
      const player = await WhepPlayer.play(`${base}/whep/app1/room1/u`, await viewerToken(base, keys, 'app1', 'room1'));
      try {
        const video = await player.waitForVideo((v) => v.framesDecoded >= 20, 30_000);
        assert.ok(video.framesDecoded >= 20, `a viewer decodes the page (${JSON.stringify(video)})`);
      } finally {
        await player.close();
      }

      const root = path.join(tmpdir(), `webcast-browsers-${nodeKey(dataDir)}`);
      // Not the launch's own wrappers (joining the groups, the helper that makes the namespaces,
      // then setpriv), which run as the service until setpriv drops to the browser's uid.
      const browsers = pidsWhere((cmd) => cmd.includes(root) && !cmd.startsWith('/bin/sh -c') && !cmd.startsWith('/usr/bin/setpriv') && !cmd.includes('/.webcast-confine'));
      assert.ok(browsers.length >= 3, 'the task\'s browser runs');
      // Chromium's browser process: not its crash handler, which names the folder too (ci116 took
      // it for the browser when the pids had wrapped round and it came first).
      const main = browsers.find((pid) => /\/chromium$/.test(cmdline(pid).split(' ')[0] ?? '') && !cmdline(pid).includes('--type='));
      assert.ok(main, 'the browser process runs');
      const ns = (pid: number | 'self', kind: string) => readlinkSync(`/proc/${pid}/ns/${kind}`);
      let outside = 0;
      for (const pid of browsers) {
        assert.notEqual(uidOf(pid), 0, 'no browser process runs as root');
        assert.notEqual(uidOf(pid), SERVICE_UID, 'nor as the service');
        // Sandboxed processes hold capabilities inside a user namespace of their own only, which
        // give nothing outside it; every process in the browser process's namespace holds none.
        if (ns(pid, 'user') !== ns(main, 'user')) continue;
        for (const set of ['CapInh', 'CapPrm', 'CapEff', 'CapAmb']) assert.equal(BigInt(`0x${field(pid, set)}`), 0n, `pid ${pid} keeps no capability (${set} ${field(pid, set)})`);
        // No capability to enter a Landlock domain without: the helper asked for no_new_privs first.
        assert.equal(field(pid, 'NoNewPrivs'), '1', `pid ${pid} is in the browser's Landlock domain`);
        outside += 1;
        assert.match(readFileSync(`/proc/${pid}/cgroup`, 'utf8'), new RegExp(`webcast-${nodeKey(dataDir)}-`), 'in a cgroup of its task');
      }
      assert.ok(outside >= 2, 'the browser process and its helpers outside the sandbox were checked');
      assert.ok(execFileSync('iptables', ['-w', '-S', 'WEBCAST-BROWSER-ALLOW']).toString().includes(`webcast-node:${nodeKey(dataDir)}`), 'its firewall openings are in place');
      // The egress proxy's process, which parses every page's requests, drops the unit's ambient capabilities.
      const egress = pidsWhere((cmd) => cmd.includes('egress-process.ts') && !cmd.startsWith('/usr/bin/setpriv')).filter((pid) => tree([service?.child.pid ?? 0]).includes(pid));
      assert.equal(egress.length, 1, 'the egress proxy runs in a process of its own');
      for (const set of ['CapInh', 'CapPrm', 'CapEff', 'CapAmb']) assert.equal(BigInt(`0x${field(egress[0] ?? 0, set)}`), 0n, `the egress proxy keeps no capability (${set})`);
      assert.equal(field(egress[0] ?? 0, 'NoNewPrivs'), '1', 'and can gain none');
      assert.doesNotMatch(service.output(), /not confined|not bounded|can not run browsers|cannot be made|no Landlock domain/);
      // The unit's capabilities leave out CAP_SYS_ADMIN: the browser's root of its own is made in a
      // user namespace, and the operator is told.
      assert.match(service.output(), /no CAP_SYS_ADMIN: each browser gets a root and a folder in memory of its own in a user namespace/);
      assert.ok(!readFileSync(`/proc/${service.child.pid ?? 0}/mountinfo`, 'utf8').includes(root), 'nothing is mounted in the service\'s namespace for a browser without CAP_SYS_ADMIN');
      for (const kind of ['user', 'mnt', 'ipc', 'pid']) assert.notEqual(ns(main, kind), ns('self', kind), `the browser has a ${kind} namespace of its own`);
      const itsRoot = readdirSync(`/proc/${main}/root`);
      for (const node of ['home', 'root', 'opt', 'srv']) assert.ok(!itsRoot.includes(node), `/${node} is in the browser's root (${itsRoot.join(' ')})`);
      assert.ok(itsRoot.includes('usr') && itsRoot.includes('etc'), 'the system\'s folders are');
      assert.notEqual(statSync(`/proc/${main}/root/tmp`).dev, statSync('/tmp').dev, 'its /tmp is its own');
      assert.notEqual(statSync(`/proc/${main}/root/run`).dev, statSync('/run').dev, 'its /run is its own');
      // Its folder is in memory of its own, which the node never sees: the profile Chromium
      // writes is there, and not in the folder's copy on the node's disk.
      const folder = /--user-data-dir=(\S+)\/profile/.exec(cmdline(main))?.[1] ?? '';
      assert.ok(folder.startsWith(root), `the browser's folder (${folder})`);
      assert.notEqual(statSync(`/proc/${main}/root${folder}`).dev, statSync(folder).dev, 'its folder is a file system of its own');
      assert.ok(readdirSync(`/proc/${main}/root${folder}/profile`).length > 0, 'Chromium writes its profile in it');
      assert.deepEqual(readdirSync(`${folder}/profile`), [], 'nothing of it reaches the node\'s disk');
      // Its user namespace maps two uids only: the browser's, and a uid of its own as root. Not the
      // service's: the browser's uid owns the namespace (so that its slirp4netns may join its
      // network), and a process of that uid outside could enter it and be its root.
      const uidMap = readFileSync(`/proc/${main}/uid_map`, 'utf8').trim().split('\n').map((l) => l.trim().split(/\s+/).map(Number));
      assert.equal(uidMap.length, 2, `the namespace maps ${JSON.stringify(uidMap)}`);
      const rootUid = uidMap.find(([inside]) => inside === 0)?.[1];
      assert.ok(rootUid !== undefined && ![0, SERVICE_UID, uidOf(main)].includes(rootUid), `its root is a uid of its own (${rootUid})`);
      assert.deepEqual(uidMap.find(([inside]) => inside !== 0), [uidOf(main), uidOf(main), 1], 'the browser\'s uid is itself there');
      // Its PID 1 is the helper that made the namespaces, with the node's root and working folder.
      // No one but the node's root reaches them through it: not the browser's uid in the namespace,
      // not the namespace's own root, not the browser's uid outside it (which owns the namespace).
      const pid1 = allPids().find((pid) => {
        try {
          return /^NSpid:\t\d+\t1$/m.test(status(pid)) && ns(pid, 'pid') === ns(main, 'pid');
        } catch {
          return false;
        }
      });
      assert.ok(pid1, 'the namespace\'s PID 1 is found');
      assert.ok(readdirSync(`/proc/${pid1}/root/`).length > 0, 'the node\'s root reaches the node\'s root through its PID 1 (the check works)');
      const inItsNamespaces = (asBrowser: boolean, script: string) => spawnSync('/usr/bin/nsenter', [
        `--target=${main}`, '--user', '--mount', '--pid', '--ipc', '--net', '--',
        ...(asBrowser ? ['/usr/bin/setpriv', `--reuid=${uidOf(main)}`, `--regid=${uidOf(main)}`, '--clear-groups', '--'] : []),
        '/bin/sh', '-c', script,
      ], { encoding: 'utf8' });
      const throughPid1 = 'ls /proc/1/root/ /proc/1/cwd/ >/dev/null && echo reached';
      for (const [who, attempt] of [['the browser\'s uid', inItsNamespaces(true, throughPid1)], ['the namespace\'s root', inItsNamespaces(false, throughPid1)]] as const) {
        assert.notEqual(attempt.stdout.trim(), 'reached', `${who} reached the node's root through its PID 1: ${attempt.stderr}`);
      }
      const ownerOutside = spawnSync('/usr/bin/setpriv', [`--reuid=${uidOf(main)}`, `--regid=${uidOf(main)}`, '--clear-groups', '--', '/bin/sh', '-c', `ls /proc/${pid1}/root/ >/dev/null && echo reached`], { encoding: 'utf8' });
      assert.notEqual(ownerOutside.stdout.trim(), 'reached', `the browser's uid outside reached the node's root through its PID 1: ${ownerOutside.stderr}`);

      // A network of its own: not the machine's socket tables, where the service listens, nor its interfaces.
      assert.notEqual(ns(main, 'net'), ns('self', 'net'), 'the browser has a network namespace of its own');
      assert.match(service.output(), /each browser gets a network namespace of its own/);
      const hexPort = `:${Number(new URL(`http://${service.host}`).port).toString(16).toUpperCase().padStart(4, '0')} `;
      const tables = 'cat /proc/net/tcp /proc/net/tcp6 /proc/net/unix';
      assert.ok(execFileSync('/bin/sh', ['-c', tables]).toString().includes(hexPort), 'the node\'s tables list where the service listens (the check works)');
      const inside = inItsNamespaces(true, `${tables}; ls /sys/class/net`);
      assert.equal(inside.status, 0, inside.stderr);
      assert.ok(!inside.stdout.includes(hexPort), 'the service\'s listening socket is in the browser\'s socket tables');
      for (const name of Object.keys(networkInterfaces()).filter((i) => i !== 'lo')) assert.ok(!inside.stdout.includes(name), `the node's interface ${name} is seen: ${inside.stdout}`);
      // Its IPv6 addresses, one a line (a socket table's kernel addresses may hold "fe80" too:
      // 2026-11-28, a false alarm when the check read every file at once).
      const ipv6 = inItsNamespaces(true, 'cat /proc/net/if_inet6 2>/dev/null; true');
      assert.equal(ipv6.stdout.trim(), '', `the browser's network has IPv6 addresses: ${ipv6.stdout}`);
      // Its way out: slirp4netns as its uid in the node's network namespace (its sockets are the
      // uid's, under the browser firewall), under its seccomp filter, in a root of its own built in
      // the browser's user namespace, where it keeps CAP_SYS_ADMIN and CAP_NET_ADMIN (to join the
      // browser's network and make its interface) and nothing else: no capability of the node's.
      // Its own, in its cgroup: the warm spare beside it has one too.
      const slirp = pidsWhere((cmd) => cmd.startsWith(`${SLIRP4NETNS} `)).find((pid) => readFileSync(`/proc/${pid}/cgroup`, 'utf8') === readFileSync(`/proc/${main}/cgroup`, 'utf8'));
      assert.ok(slirp, 'the browser\'s slirp4netns runs in its cgroup');
      assert.equal(uidOf(slirp), uidOf(main));
      assert.equal(ns(slirp, 'net'), ns('self', 'net'), 'slirp4netns is in the node\'s network namespace');
      assert.equal(ns(slirp, 'user'), ns(main, 'user'), 'slirp4netns is in the browser\'s user namespace');
      const CAP_NET_ADMIN = 12n;
      const CAP_SYS_ADMIN = 21n;
      assert.equal(BigInt(`0x${field(slirp, 'CapEff')}`), (1n << CAP_SYS_ADMIN) | (1n << CAP_NET_ADMIN), `slirp4netns keeps CAP_SYS_ADMIN and CAP_NET_ADMIN in the browser's user namespace only (CapEff ${field(slirp, 'CapEff')})`);
      assert.equal(field(slirp, 'NoNewPrivs'), '1');
      assert.equal(field(slirp, 'Seccomp'), '2');
      assert.ok(!existsSync(`/proc/${slirp}/root/home`) && !existsSync(`/proc/${slirp}/root/srv`), 'slirp4netns sees the node\'s folders');
      assert.ok(existsSync(`/proc/${slirp}/root/dev/net/tun`), 'slirp4netns has its device');
      assert.ok(!existsSync(`/proc/${main}/root/dev/net/tun`), 'the browser has slirp4netns\'s device');
      assert.notEqual(statSync(`/proc/${slirp}/root/run`).dev, statSync('/run').dev, 'slirp4netns\'s /run, where the node\'s socket files are, is its own');
      assert.ok(readdirSync(`/proc/${slirp}/root/proc`).filter((d) => /^\d+$/.test(d)).length <= 3, 'slirp4netns\'s /proc lists only its own processes');
      // Its Landlock domain, run here around a reader as its uid: the system's folders, not the
      // node's /proc (where it runs, the machine's socket tables) nor the service's data.
      const asSlirp = (file: string) => spawnSync('/usr/bin/setpriv', [`--reuid=${uidOf(main)}`, `--regid=${uidOf(main)}`, '--clear-groups', '--', ...networkStackDomain(folder), '/bin/cat', file], { encoding: 'utf8' });
      assert.equal(asSlirp('/etc/hostname').status, 0, 'in slirp4netns\'s domain the system\'s files are read (the check works)');
      assert.notEqual(asSlirp('/proc/net/tcp').status, 0, 'slirp4netns\'s domain reads the machine\'s socket tables');
      // Its /proc shows its own PID namespace: not the service, which the node's shows it.
      const itsProcs = readdirSync(`/proc/${main}/root/proc`).filter((d) => /^\d+$/.test(d));
      assert.ok(itsProcs.length >= 3 && itsProcs.length < 40, `its /proc lists its own processes (${itsProcs.length})`);
    } finally {
      assert.equal(await service.stop(), 0);
    }
  });
});
