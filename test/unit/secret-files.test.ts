import assert from 'node:assert/strict';
import { linkSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { copiesIn, readableByEveryone, realPaths, secretFiles } from '../../src/secret-files.js';

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

test('the copies of a file of secrets are found where a browser\'s root would show them: second links, the same bytes, backups named after it', (t) => {
  const etc = realpathSync(mkdtempSync(path.join(tmpdir(), 'webcast-etc-')));
  t.after(() => rmSync(etc, { recursive: true, force: true }));
  const secret = '{"keys":[{"accessKey":"AK1","secretKey":"s3cr3t-of-the-node"}]}';
  const put = (name: string, text: string) => {
    const p = path.join(etc, name);
    mkdirSync(path.dirname(p), { recursive: true });
    writeFileSync(p, text);
    return p;
  };
  const keys = put('webcast/keys.json', secret);
  const found = [
    put('webcast/keys.json.bak', '{"keys":[]}'),
    put('webcast/keys.json~', 'an older key'),
    put('webcast/.keys.json.swp', 'swap'),
    put('webcast/#keys.json#', 'autosave'),
    put('backups/2026/k.json', secret),
  ];
  mkdirSync(path.join(etc, 'elsewhere'));
  linkSync(keys, path.join(etc, 'elsewhere', 'linked'));
  found.push(path.join(etc, 'elsewhere', 'linked'));
  // Not copies: other bytes of the same length, a file of that name elsewhere, an empty file, a link by name.
  put('webcast/other.json', secret.replace('s3cr3t', 'public'));
  put('other/keys.json.bak', 'not beside it');
  put('webcast/empty', '');
  symlinkSync(keys, path.join(etc, 'webcast', 'current.json'));
  assert.deepEqual(copiesIn(etc, [keys]).sort(), found.sort());
  assert.deepEqual(copiesIn(etc, []), [], 'no file of secrets, no copy');
  assert.deepEqual(copiesIn(path.join(etc, 'missing'), [keys]), [], 'a folder that is not there holds none');
});
