import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { createLogger } from '../../src/log.js';
import { EmbeddedJanus, freePort } from '../../src/rooms/janus/embedded-janus.js';

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
  const isAlive = (pid: number): boolean => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };

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
    const lines: string[] = [];
    const log = createLogger({ level: 'info', destination: { write: (l: string) => lines.push(l) } as unknown as NodeJS.WritableStream });
    const janus = new EmbeddedJanus({ dataDir: dataDir(), log, libDir: '/nonexistent' });
    await assert.rejects(janus.start(), /janus exited with 1 while starting; the end of \S+janus\.log:\n(.*\n)*.*\[FATAL\].*Couldn't access plugins folder/);
    // Its start failed, and says so: it is not a crash to restart from.
    await new Promise((r) => setTimeout(r, 1000));
    assert.deepEqual(lines.filter((l) => /died|restart/.test(l)), []);
    assert.equal(janus.pid === undefined || !isAlive(janus.pid), true, 'no Janus left running');
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

  it('starts on other ports when a port picked for it was taken before it could listen, and says so', async () => {
    // Another process holds a port; the first start is handed it for the WebSocket transport,
    // the second for HTTP: as when an outgoing connection takes a picked port in between.
    const holder = createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
    const taken = (holder.address() as AddressInfo).port;
    let picks = 0;
    const lines: string[] = [];
    const log = createLogger({ level: 'info', destination: { write: (l: string) => lines.push(l) } as unknown as NodeJS.WritableStream });
    const janus = new EmbeddedJanus({ dataDir: dataDir(), log, pickPort: async () => ((picks += 1) === 1 || picks === 4 ? taken : freePort()) });
    try {
      const urls = await janus.start();
      assert.ok(!urls.wsUrl.includes(`:${taken}/`) && !urls.httpUrl.includes(`:${taken}/`), `janus listens on ports of its own (${urls.wsUrl}, ${urls.httpUrl})`);
      assert.equal((await fetch(`${urls.httpUrl}/info`)).ok, true, 'and answers');
      assert.equal(lines.filter((l) => l.includes('was taken before janus could listen on it')).length, 2, 'each taken port is logged');
    } finally {
      await janus.stop();
      holder.close();
    }
  });
});
