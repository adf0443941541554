import { readFileSync } from 'node:fs';

/**
 * What this process may do to give each browser a user of its own. Root may; so may an
 * unprivileged service user granted exactly these capabilities (the systemd unit's
 * AmbientCapabilities), which is what a deployment should prefer.
 */
export const CAPABILITIES = {
  /** Hand each browser's folder to its uid. */
  CHOWN: 0,
  /** Remove the files a browser's uid left in its folder; make cgroups. */
  DAC_OVERRIDE: 1,
  /** End what is left of a browser's processes. */
  KILL: 5,
  /** Start each browser as its own uid and gid. */
  SETGID: 6,
  SETUID: 7,
  /** The browsers' firewall rules. */
  NET_ADMIN: 12,
  NET_RAW: 13,
  /** Each browser's folder and world-writable folders in memory of its own (browser-mounts.ts). */
  SYS_ADMIN: 21,
} as const;
export type Capability = keyof typeof CAPABILITIES;

/** What running browsers as other users needs; the firewall needs NET_ADMIN and NET_RAW besides. */
export const BROWSER_USER_CAPABILITIES: readonly Capability[] = ['CHOWN', 'DAC_OVERRIDE', 'KILL', 'SETGID', 'SETUID'];

/** The effective capabilities of this process, from /proc/self/status. */
function effective(): bigint {
  const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
  return hex ? BigInt(`0x${hex}`) : 0n;
}

export function hasCapabilities(needed: readonly Capability[]): boolean {
  const have = effective();
  return needed.every((c) => (have >> BigInt(CAPABILITIES[c])) & 1n);
}

/** Whether this process can run each browser as a user of its own. */
export const canSwitchUsers = (): boolean => process.getuid?.() === 0 || hasCapabilities(BROWSER_USER_CAPABILITIES);
