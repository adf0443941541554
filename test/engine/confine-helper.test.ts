import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { describe, it } from 'node:test';
import { CONFINE_HELPER } from '../../src/capture/browser-confinement.js';
import { testBrowserUids } from '../helpers/uid-range.js';

/**
 * The Landlock helper's namespaces (webcast-confine.c): what it refuses, and whom it lets into a
 * browser's user namespace. Its part in a launch is the unprivileged and hostile suites'.
 */

const notRoot = process.getuid?.() !== 0 && 'needs root, to run the helper as other uids';
const [first] = testBrowserUids().split('-').map(Number);
const OWNER = first ?? 2000000000;
const OTHER = OWNER + 1;

const asUid = (uid: number) => ['/usr/bin/setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--'];

describe('the Landlock helper\'s namespaces', { skip: notRoot }, () => {
  it('refuses what it cannot do with a clear message and exit 95, and runs nothing', () => {
    const cases: [string[], RegExp][] = [
      [['--namespaces', String(OWNER), String(OWNER), '--', '/bin/echo', 'ran'], /two different uids/],
      [['--namespaces', '0', String(OWNER), '--', '/bin/echo', 'ran'], /two different uids/],
      [['--namespaces', String(OWNER), 'x1', '--network', '--', '/bin/echo', 'ran'], /two different uids/],
      [['--enter', 'four', '--', '/bin/echo', 'ran'], /--enter needs an open file descriptor/],
      [['--enter', '2', '--', '/bin/echo', 'ran'], /--enter needs an open file descriptor/],
      [['--enter', '9', '--', '/bin/echo', 'ran'], /enter the user namespace/],
    ];
    for (const [args, message] of cases) {
      const run = spawnSync(CONFINE_HELPER, args, { encoding: 'utf8' });
      assert.equal(run.status, 95, `${args.join(' ')}: exit ${run.status}, ${run.stderr}`);
      assert.match(run.stderr, message, args.join(' '));
      assert.equal(run.stdout, '', `${args.join(' ')} ran its command`);
    }
  });

  it('lets only the uid that owns a user namespace into it, as that namespace\'s root', async () => {
    // A user namespace of OWNER's, as the helper makes one for a browser, held by a sleeping process.
    const holder = spawn(asUid(OWNER)[0] ?? '', [...asUid(OWNER).slice(1), '/usr/bin/unshare', '--user', '--map-root-user', '--', '/bin/sh', '-c', 'echo ready && exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      await new Promise<void>((resolve, reject) => {
        holder.stdout.once('data', () => resolve());
        holder.once('exit', () => reject(new Error('the holder ended')));
      });
      const fd = openSync(`/proc/${holder.pid}/ns/user`, 'r');
      try {
        const enter = (uid: number) => spawnSync(asUid(uid)[0] ?? '', [...asUid(uid).slice(1), CONFINE_HELPER, '--enter', '3', '--', '/usr/bin/id', '-u'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe', fd] });
        const owner = enter(OWNER);
        assert.equal(owner.status, 0, owner.stderr);
        assert.equal(owner.stdout.trim(), '0', 'the owner is the namespace\'s root there (the check works)');
        const other = enter(OTHER);
        assert.equal(other.status, 95);
        assert.match(other.stderr, /enter the user namespace: Operation not permitted/);
        assert.equal(other.stdout, '', 'another uid ran a command in the namespace');
      } finally {
        closeSync(fd);
      }
    } finally {
      holder.kill('SIGKILL');
    }
  });
});
