import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { costFactorSaver, loadCostFactor } from '../../src/scheduler/cost-factor-file.js';

test('the measured cost factor survives a restart, is saved when it moves by 5 %, and a bad file is the model alone', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'webcast-cost-'));
  try {
    assert.equal(loadCostFactor(dir), undefined);
    const save = costFactorSaver(dir, undefined);
    assert.equal(save(1.8), true);
    assert.equal(loadCostFactor(dir), 1.8);
    assert.equal(statSync(path.join(dir, 'cost-factor.json')).mode & 0o777, 0o600);
    assert.equal(save(1.85), false);
    assert.equal(loadCostFactor(dir), 1.8, 'a move under 5 % is not written');
    save(1.6);
    assert.equal(loadCostFactor(dir), 1.6);
    assert.match(readFileSync(path.join(dir, 'cost-factor.json'), 'utf8'), /"measuredAt":"\d{4}-/);
    for (const bad of ['{', '{"factor":"2"}', '{"factor":0.2}', '{"factor":1e9}', 'null']) {
      writeFileSync(path.join(dir, 'cost-factor.json'), bad);
      assert.equal(loadCostFactor(dir), undefined, bad);
    }
    // A folder it cannot write to: no throw (the engine's watch calls it).
    costFactorSaver(path.join(dir, 'gone', 'deeper'), undefined)(2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
