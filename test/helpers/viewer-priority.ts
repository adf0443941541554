import { chmodSync, existsSync, mkdirSync, readFileSync, rmdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const CHROMIUM = process.env.WEBCAST_CHROMIUM_PATH ?? '/usr/bin/chromium';
/**
 * Two tasks' worth of CPU weight: enough that a page spinning both cores does not slow the
 * viewer's decoding, not so much that the viewer's own browser launches starve the node's
 * starts (at eight tasks' worth, a cluster failover measured 12–13 s instead of 6.6–7.5 s).
 */
const VIEWER_SHARES = { v1: '2048', v2: '200' };

let executable: string | undefined;

function ownGroup(controller: string): string {
  for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
    const [, controllers, group] = /^\d+:([^:]*):(.*)$/.exec(line) ?? [];
    if (controllers !== undefined && controllers.split(',').includes(controller)) return group ?? '/';
  }
  return '/';
}

/** A CPU group for this test process's viewers, with a high weight; undefined where none can be made. */
function viewerGroup(): string | undefined {
  const name = `webcast-test-viewers-${process.pid}`;
  const v2 = existsSync('/sys/fs/cgroup/cgroup.controllers');
  const base = v2 ? path.join('/sys/fs/cgroup', ownGroup('')) : path.join('/sys/fs/cgroup/cpu', ownGroup('cpu'));
  const dir = path.join(base, name);
  try {
    if (v2 && !readFileSync(path.join(base, 'cgroup.subtree_control'), 'utf8').includes('cpu')) return undefined;
    mkdirSync(dir);
    writeFileSync(path.join(dir, v2 ? 'cpu.weight' : 'cpu.shares'), v2 ? VIEWER_SHARES.v2 : VIEWER_SHARES.v1);
  } catch {
    return undefined;
  }
  process.once('exit', () => {
    try {
      rmdirSync(dir);
    } catch {
      // a viewer still closing; the group is empty and harmless
    }
  });
  return dir;
}

/**
 * The Chromium a test's viewer runs. A real viewer watches from another machine; here it shares
 * two cores with the node under test, and a page that spins every core would slow the viewer's
 * decoding and be blamed for frames the node did send. So where the tests may make a cgroup
 * (as root), the viewer's browser starts in one of high CPU weight; elsewhere it is plain
 * Chromium. What the node sends is untouched: its tasks' weights stay as the service sets them.
 */
export function viewerChromium(): string {
  if (executable) return executable;
  const group = viewerGroup();
  if (!group) return (executable = CHROMIUM);
  const script = path.join(tmpdir(), `webcast-test-viewer-${process.pid}.sh`);
  writeFileSync(script, `#!/bin/sh\necho $$ > '${path.join(group, 'cgroup.procs')}' 2>/dev/null\nexec '${CHROMIUM}' "$@"\n`);
  chmodSync(script, 0o755);
  process.once('exit', () => {
    try {
      unlinkSync(script);
    } catch {
      // already gone
    }
  });
  return (executable = script);
}
