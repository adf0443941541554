import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { canSwitchUsers } from './privileges.js';
import { processIds } from './proc-stat.js';

/**
 * Chromium must never run as root: its sandbox refuses to, and a page that escaped its renderer
 * would own the node. A service started as root runs every task's browser as a uid of its own,
 * drawn from WEBCAST_BROWSER_UIDS (no account needed: nothing looks the uid up), so that a page
 * that escaped even the browser's sandbox can neither signal, trace nor read another task's
 * browser, nor the service's files. A service started as an ordinary user runs them as itself,
 * sandboxed all the same (README: Security model).
 */
export interface BrowserUids {
  first: number;
  last: number;
}

export const DEFAULT_BROWSER_UIDS = '2000000000-2000999999';

/** Parses `first-last`; throws with the reason. */
export function parseBrowserUids(raw: string): BrowserUids {
  const m = /^(\d+)-(\d+)$/.exec(raw.trim());
  const [first, last] = [Number(m?.[1]), Number(m?.[2])];
  if (!m || !(first >= 1000 && last >= first + 99 && last < 2 ** 31)) {
    throw new Error(`WEBCAST_BROWSER_UIDS must be a range first-last of at least 100 unprivileged uids (1000 ≤ first, last < 2^31), got "${raw}"`);
  }
  return { first, last };
}

/** The uids that own a process on this machine now. */
function uidsInUse(): Set<number> {
  const used = new Set<number>();
  for (const pid of processIds()) {
    const uid = uidOf(pid);
    if (uid !== undefined) used.add(uid);
  }
  return used;
}

/** The uid that owns process `pid`, if it still runs. */
export function uidOf(pid: number): number | undefined {
  try {
    const uid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return uid === undefined ? undefined : Number(uid);
  } catch {
    return undefined;
  }
}

/**
 * Hands out a uid no running process has, for one browser. Undefined when the service can not
 * switch users (neither root nor granted the capabilities for it): the browser then runs as the
 * service's own user.
 */
export class BrowserUidPool {
  private readonly mine = new Set<number>();

  constructor(readonly range: BrowserUids | undefined) {}

  /** The range when this process may switch users (root, or the capabilities), else none. */
  static forThisProcess(range: BrowserUids): BrowserUidPool {
    return new BrowserUidPool(canSwitchUsers() ? range : undefined);
  }

  take(): number | undefined {
    if (!this.range) return undefined;
    const used = uidsInUse();
    for (let i = 0; i < 100; i += 1) {
      const uid = randomInt(this.range.first, this.range.last + 1);
      if (!used.has(uid) && !this.mine.has(uid)) {
        this.mine.add(uid);
        return uid;
      }
    }
    throw new Error('no free uid in WEBCAST_BROWSER_UIDS');
  }

  give(uid: number | undefined): void {
    if (uid !== undefined) this.mine.delete(uid);
  }
}

/**
 * setpriv's arguments that run the rest of a command line as `uid` (undefined: the service's
 * own), killed with the service. A service that is not root holds its capabilities as ambient
 * ones, which a change between two ordinary uids keeps: the uid starts with none, and in no
 * group. With `noNewPrivs`, nothing it runs can gain any either.
 */
export function setprivAs(uid: number | undefined, o: { noNewPrivs?: boolean; keep?: readonly string[] } = {}): string[] {
  // `keep`: capabilities it keeps, in the user namespace it is in (setpriv's names: sys_admin).
  const caps = ['-all', ...(o.keep ?? []).map((c) => `+${c}`)].join(',');
  const drop = uid === undefined ? [] : [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', `--inh-caps=${caps}`, `--ambient-caps=${caps}`];
  return ['/usr/bin/setpriv', ...drop, ...(o.noNewPrivs ? ['--no-new-privs'] : []), '--pdeathsig', 'KILL', '--'];
}
