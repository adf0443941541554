import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { readableByEveryone, realPaths, secretFiles } from '../../src/secret-files.js';

test('the files of secrets readable by every user are the ones the node warns of, by the setting that names them', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'webcast-secrets-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, mode: number) => {
    const p = path.join(dir, name);
    writeFileSync(p, '{}', { mode });
    return p;
  };
  const keys = file('keys.json', 0o600);
  const whip = file('whip.json', 0o644);
  const callbacks = file('callbacks.json', 0o640);
  const files = secretFiles({ keysFile: keys, whipFile: whip, callbacksFile: callbacks });
  assert.deepEqual(files.map((f) => f.setting), ['WEBCAST_KEYS_FILE', 'WEBCAST_WHIP_FILE', 'WEBCAST_CALLBACKS_FILE']);
  assert.deepEqual(readableByEveryone(files), [{ setting: 'WEBCAST_WHIP_FILE', file: whip }]);
  assert.deepEqual(secretFiles({ keysFile: undefined, whipFile: undefined, callbacksFile: undefined }), []);
});

test('a file of secrets named through a link is hidden where it really is', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'webcast-secrets-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const real = path.join(dir, 'keys.json');
  writeFileSync(real, '{}');
  const link = path.join(dir, 'current.json');
  symlinkSync(real, link);
  assert.deepEqual(realPaths([{ setting: 'WEBCAST_KEYS_FILE', file: link }, { setting: 'WEBCAST_WHIP_FILE', file: path.join(dir, 'gone.json') }]), [real]);
});
