import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { REFUSALS_TOLD_EVERY_MS, REFUSALS_TOLD_PER_SPAN, ToldRefusals } from '../../src/capture/told-refusals.js';

describe('which refusals of the egress proxy the log tells (told-refusals.ts)', () => {
  it('tells a host once a minute, and the next line says how many went untold', () => {
    const r = new ToldRefusals();
    assert.deepEqual(r.refused('10.0.0.1', 0), { untold: 0 });
    for (let t = 100; t < 30_000; t += 100) assert.equal(r.refused('10.0.0.1', t), undefined);
    assert.deepEqual(r.refused('10.0.0.2', 30_000), { untold: 299 }, 'another host is told at once, with the count');
    for (let t = 30_100; t < REFUSALS_TOLD_EVERY_MS; t += 100) assert.equal(r.refused('10.0.0.1', t), undefined);
    assert.deepEqual(r.refused('10.0.0.1', REFUSALS_TOLD_EVERY_MS + 1), { untold: 299 }, 'a minute on, the host is told again');
  });

  it('tells at most REFUSALS_TOLD_PER_SPAN lines a minute of a page that asks for a new host each time', () => {
    const r = new ToldRefusals();
    // 280 a second for ten minutes, as a page did.
    let told = 0;
    let reported = 0;
    for (let i = 0; i < 280 * 600; i += 1) {
      const line = r.refused(`10.${i % 250}.${Math.floor(i / 250) % 250}.1`, Math.floor(i / 0.28));
      if (line) {
        told += 1;
        reported += line.untold;
      }
    }
    assert.equal(told, REFUSALS_TOLD_PER_SPAN * 10, 'twenty lines a minute');
    assert.ok(reported > 280 * 600 - told - 280 * 60, `the lines account for what was not told (${reported})`);
  });

  it('holds its rules over random refusals: no host twice a minute, no more than the span allows, every refusal counted', () => {
    let seed = 7;
    const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let round = 0; round < 200; round += 1) {
      const r = new ToldRefusals();
      const hosts = 1 + Math.floor(random() * 60);
      const lines: { host: string; at: number; untold: number }[] = [];
      let at = 0;
      let untoldNow = 0;
      const count = 200 + Math.floor(random() * 2000);
      for (let i = 0; i < count; i += 1) {
        at += Math.floor(random() ** 3 * 5000);
        const host = `h${Math.floor(random() * hosts)}`;
        const line = r.refused(host, at);
        if (line) {
          lines.push({ host, at, untold: line.untold });
          untoldNow = 0;
        } else untoldNow += 1;
      }
      for (const [i, line] of lines.entries()) {
        const within = lines.filter((l) => l.at > line.at - REFUSALS_TOLD_EVERY_MS && l.at <= line.at);
        assert.ok(within.length <= REFUSALS_TOLD_PER_SPAN, `round ${round}: ${within.length} lines within a minute`);
        assert.ok(!lines.slice(0, i).some((l) => l.host === line.host && l.at > line.at - REFUSALS_TOLD_EVERY_MS), `round ${round}: ${line.host} told twice within a minute`);
      }
      assert.equal(lines.length + lines.reduce((a, l) => a + l.untold, 0) + untoldNow, count, `round ${round}: every refusal told or counted`);
    }
  });
});
