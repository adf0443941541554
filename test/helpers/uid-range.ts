import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { processAlive } from '../../src/capture/browser-firewall.js';

/**
 * Browser uids for one test node. Nodes of one machine must not share uids (each node's firewall
 * openings are for its own range; a node whose range overlaps a live node's refuses to start),
 * and test files run two at a time: each process takes one of 80 slices of the default range's
 * first 800,000 uids (the cluster's workers use 2000900000 and up), held by a lock file with its
 * pid, taken over once that pid is gone, and gives each node it starts the next 250 uids of it
 * (40 nodes of one file may run at once).
 */
const FIRST = 2_000_000_000;
const SLICE = 10_000;
const SLICES = 80;
const PER_NODE = 250;
const LOCKS = path.join(tmpdir(), 'webcast-test-uid-slices');

let mine: number | undefined;
let nodes = 0;

export function testBrowserUids(): string {
  mine ??= takeSlice();
  const first = mine + (nodes++ % (SLICE / PER_NODE)) * PER_NODE;
  return `${first}-${first + PER_NODE - 1}`;
}

function takeSlice(): number {
  mkdirSync(LOCKS, { recursive: true });
  for (let attempt = 0; attempt < 2; attempt += 1) {
    for (let i = 0; i < SLICES; i += 1) {
      const lock = path.join(LOCKS, String(i));
      try {
        const fd = openSync(lock, 'wx');
        writeSync(fd, String(process.pid));
        closeSync(fd);
      } catch {
        // Taken: by a live process, or left by one that died (then freed for the second pass).
        const holder = Number(readFileSync(lock, 'utf8') || 0);
        if (attempt === 0 && holder > 0 && !processAlive(holder)) unlinkSync(lock);
        continue;
      }
      process.once('exit', () => {
        try {
          unlinkSync(lock);
        } catch {
          // already gone
        }
      });
      return FIRST + i * SLICE;
    }
  }
  throw new Error(`no free slice of browser uids in ${LOCKS}`);
}
