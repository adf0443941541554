import { execFileSync } from 'node:child_process';

/** The unprivileged account the cloud browser runs as when the service may switch users. */
export interface BrowserUser {
  name: string;
  uid: number;
  gid: number;
}

export const DEFAULT_BROWSER_USER = 'webcast-browser';

/**
 * Chromium must never run as root: its sandbox refuses to, and a page that escaped its renderer
 * would own the node. A service started as root runs every browser as `name` (created by
 * `npm run setup`); a service started as an ordinary user runs them as itself, sandboxed all
 * the same, and its own files are then what a browser escape could reach (README: Security
 * model). Undefined = run as ourselves.
 */
export function resolveBrowserUser(name: string): BrowserUser | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string): number => Number(execFileSync('id', [flag, name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
  let user: BrowserUser;
  try {
    user = { name, uid: id('-u'), gid: id('-g') };
  } catch {
    throw new Error(`the service runs as root, and the cloud browser's own user "${name}" does not exist: run \`npm run setup\` (it creates it), or name another unprivileged user in WEBCAST_BROWSER_USER`);
  }
  if (user.uid === 0 || user.gid === 0) throw new Error(`WEBCAST_BROWSER_USER "${name}" is root; the cloud browser needs an unprivileged user`);
  return user;
}
