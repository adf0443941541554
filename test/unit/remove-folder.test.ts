import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { removeFolder } from '../../src/capture/remove-folder.js';

describe('removing a closed browser\'s folder', () => {
  it('removes a folder that a process still writes into, and keeps the event loop turning meanwhile', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'webcast-remove-'));
    const profile = path.join(root, 'profile', 'Default');
    mkdirSync(profile, { recursive: true });
    // Enough entries that a removal's listing and the folder's rmdir are apart in time.
    for (let i = 0; i < 2000; i += 1) writeFileSync(path.join(profile, `f${i}`), 'x');
    // A helper that outlived its browser, flushing into the profile every 5 ms for about 2 s.
    const writer = spawn('sh', ['-c', `i=0; while [ $i -lt 400 ]; do : > '${profile}'/new$i 2>/dev/null; i=$((i+1)); sleep 0.005; done`]);
    try {
      await new Promise((r) => setTimeout(r, 100));
      let longestGapMs = 0;
      let last = performance.now();
      const tick = setInterval(() => {
        const now = performance.now();
        longestGapMs = Math.max(longestGapMs, now - last);
        last = now;
      }, 10);
      await removeFolder(root, 5000).finally(() => clearInterval(tick));
      assert.equal(existsSync(root), false, 'the folder is gone');
      // Node 20's rmSync with maxRetries held the thread for seconds here, and failed.
      assert.ok(longestGapMs < 1000, `the event loop stood still for ${Math.round(longestGapMs)} ms`);
    } finally {
      writer.kill();
    }
  });
});
