import { rm } from 'node:fs/promises';
import { unmountUnder } from './browser-mounts.js';

const RETRY_MS = 100;

/** How long a browser's folder is tried to be removed while something still writes there. */
export const FOLDER_REMOVAL_MS = 3_000;

/**
 * Removes `dir` with everything in it, the whole removal again while it fails, for up to
 * `withinMs`. A process still writing there (a closed browser's helper flushing its profile)
 * adds an entry after a removal listed the folder, and the folder's rmdir then fails with
 * ENOTEMPTY. Node 20's rmSync with maxRetries tries only that rmdir again, never the new entry,
 * and sleeps between tries on the event loop's thread: 30 tries at 100 ms held a node's every
 * task, timer and request for up to 46 s, and still failed (measured: a folder written into
 * every 5 ms, 5 tries held the loop 1.9 s and failed).
 *
 * What is mounted in it (a browser's folder in memory, browser-mounts.ts) is unmounted first:
 * a recursive removal would empty the mount and then fail on its mount point, for ever.
 */
export async function removeFolder(dir: string, withinMs: number): Promise<void> {
  await unmountUnder(dir);
  const deadline = Date.now() + withinMs;
  for (;;) {
    try {
      await rm(dir, { recursive: true, force: true });
      return;
    } catch (err) {
      if (Date.now() + RETRY_MS > deadline) throw err;
      await new Promise((r) => setTimeout(r, RETRY_MS));
    }
  }
}
