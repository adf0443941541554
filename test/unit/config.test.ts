import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { loadConfig } from '../../src/config.js';

const dir = mkdtempSync(path.join(tmpdir(), 'webcast-config-'));

describe('configuration', () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('has the documented defaults', () => {
    const c = loadConfig({});
    assert.deepEqual([c.host, c.port, c.dataDir, c.accessKey, c.region], ['127.0.0.1', 8080, path.resolve('data'), undefined, 'cn-north-1']);
  });

  it('reads a JSON config file, and the environment wins over it', () => {
    const file = path.join(dir, 'webcast.json');
    writeFileSync(file, JSON.stringify({ WEBCAST_PORT: 9000, WEBCAST_HOST: '0.0.0.0', WEBCAST_RATE_LIMITS: 'GetWebCastTask=7' }));
    const c = loadConfig({ WEBCAST_CONFIG: file, WEBCAST_HOST: '127.0.0.2' });
    assert.deepEqual([c.port, c.host, c.rateLimits.GetWebCastTask], [9000, '127.0.0.2', 7]);
  });

  it('names the setting that is wrong', () => {
    assert.throws(() => loadConfig({ WEBCAST_PORT: 'eighty' }), /WEBCAST_PORT must be an integer/);
    const file = path.join(dir, 'typo.json');
    writeFileSync(file, JSON.stringify({ WEBCAST_PROT: 1 }));
    assert.throws(() => loadConfig({ WEBCAST_CONFIG: file }), /WEBCAST_PROT/);
    assert.throws(() => loadConfig({ WEBCAST_SECRET_KEY: 'x' }), /set both/);
  });
});
