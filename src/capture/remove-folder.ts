import { rm } from 'node:fs/promises';

const RETRY_MS = 100;

/**
 * Removes `dir` with everything in it, the whole removal again while it fails, for up to
 * `withinMs`. A process still writing there (a closed browser's helper flushing its profile)
 * adds an entry after a removal listed the folder, and the folder's rmdir then fails with
 * ENOTEMPTY. Node 20's rmSync with maxRetries tries only that rmdir again, never the new entry,
 * and sleeps between tries on the event loop's thread: 30 tries at 100 ms held a node's every
 * task, timer and request for up to 46 s, and still failed (measured: a folder written into
 * every 5 ms, 5 tries held the loop 1.9 s and failed).
 */
export async function removeFolder(dir: string, withinMs: number): Promise<void> {
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
