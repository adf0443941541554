import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { createLogger } from '../../src/log.js';
import { EmbeddedJanus } from '../../src/rooms/janus/embedded-janus.js';

describe('the embedded Janus\'s log', () => {
  const dirs: string[] = [];
  const dataDir = (): string => {
    const dir = mkdtempSync(path.join(tmpdir(), 'webcast-janus-'));
    dirs.push(dir);
    return dir;
  };
  after(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });
  const quiet = createLogger({ level: 'silent' });

  it('keeps what Janus says in DATA_DIR/janus.log, without the API secret', async () => {
    const dir = dataDir();
    const janus = new EmbeddedJanus({ dataDir: dir, log: quiet });
    await janus.start();
    await janus.stop();
    const log = readFileSync(path.join(dir, 'janus.log'), 'utf8');
    assert.match(log, /Debug\/log level is 3/);
    assert.match(log, /Bye!/, 'to its end');
    assert.ok(!log.includes(janus.apiSecret));
  });

  it('says in its error why a Janus did not start, in Janus\'s own words', async () => {
    const janus = new EmbeddedJanus({ dataDir: dataDir(), log: quiet, libDir: '/nonexistent' });
    await assert.rejects(janus.start(), /janus exited with 1 while starting; the end of \S+janus\.log:\n(.*\n)*.*\[FATAL\].*Couldn't access plugins folder/);
    await janus.stop();
  });

  it('starts a new janus.log once the old one passed 10 MB, and keeps one before it', async () => {
    const dir = dataDir();
    writeFileSync(path.join(dir, 'janus.log'), 'x'.repeat(10 * 2 ** 20 + 1));
    const janus = new EmbeddedJanus({ dataDir: dir, log: quiet });
    await janus.start();
    await janus.stop();
    assert.match(readFileSync(path.join(dir, 'janus.log'), 'utf8'), /^\s*-+\s*Starting Meetecho Janus|^Janus version/);
    assert.equal(readFileSync(path.join(dir, 'janus.log.1'), 'utf8').length, 10 * 2 ** 20 + 1);
  });
});
