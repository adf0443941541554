import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LayerPauses, PAUSES_TOLD_EVERY_MS, type LayerChange } from '../../src/capture/layer-pauses.js';

const both = (h: number, l: number, limitation = 'bandwidth') => [
  { rid: 'h', framesSent: h, limitation },
  { rid: 'l', framesSent: l, limitation: 'none' },
];

describe('simulcast layers the browser stops sending', () => {
  it('tells once that the big layer stopped while the small one goes on, with the browser\'s reason, and once that it is back', () => {
    const w = new LayerPauses();
    assert.deepEqual(w.update(both(0, 0), 0), []);
    assert.deepEqual(w.update(both(30, 30), 2000), []);
    assert.deepEqual(w.update(both(30, 60), 4000), []);
    assert.deepEqual(w.update(both(30, 90), 6000), [{ kind: 'paused', rid: 'h', limitation: 'bandwidth', untold: 0 }]);
    assert.deepEqual(w.paused(), ['h']);
    assert.deepEqual(w.update(both(30, 120), 8000), [], 'told once');
    assert.deepEqual(w.update(both(45, 150), 10_000), [{ kind: 'resumed', rid: 'h', pausedMs: 8000 }]);
    assert.deepEqual(w.paused(), []);
  });

  it('takes no gap under 3 s for a pause', () => {
    const w = new LayerPauses();
    w.update(both(0, 0), 0);
    w.update(both(30, 30), 2000);
    assert.deepEqual(w.update(both(30, 60), 4900), []);
    assert.deepEqual(w.update(both(40, 90), 6000), []);
  });

  it('takes a page that stands still, where every layer stops at once, for no pause', () => {
    const w = new LayerPauses();
    w.update(both(0, 0), 0);
    w.update(both(30, 30), 2000);
    for (const at of [4000, 6000, 8000, 10_000]) assert.deepEqual(w.update(both(30, 30), at), []);
  });

  it('says none for a layer without a reason, and counts a new connection from zero again', () => {
    const w = new LayerPauses();
    w.update(both(100, 100, ''), 0);
    w.update(both(0, 0, ''), 1000);
    w.update(both(0, 30, ''), 3000);
    assert.deepEqual(w.update(both(0, 60, ''), 4000), [{ kind: 'paused', rid: 'h', limitation: 'none', untold: 0 }]);
  });

  it('tells a flapping layer\'s pauses once a minute, the next saying how many went untold', () => {
    const w = new LayerPauses();
    // The big layer sends at one watch (2 s) in three: each time 4 s without a frame, and a pause
    // told at the second watch without one (4 s after its last frame).
    let h = 0;
    const told: { at: number; change: LayerChange }[] = [];
    for (let i = 0; i <= 40; i++) {
      if (i % 3 === 0) h += 30;
      for (const change of w.update(both(h, i * 30), i * 2000)) told.push({ at: i * 2000, change });
    }
    assert.deepEqual(told, [
      { at: 4000, change: { kind: 'paused', rid: 'h', limitation: 'bandwidth', untold: 0 } },
      { at: 6000, change: { kind: 'resumed', rid: 'h', pausedMs: 6000 } },
      // Every 6 s in between it paused again, untold: at 10, 16, ... 58 s, nine times.
      { at: 64_000, change: { kind: 'paused', rid: 'h', limitation: 'bandwidth', untold: 9 } },
      { at: 66_000, change: { kind: 'resumed', rid: 'h', pausedMs: 6000 } },
    ]);
  });

  it('tells no more than a pause and its end per layer a minute, however the layers flap', () => {
    // Random flapping of both layers for 5 minutes of the 2 s watch, a thousand times.
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let run = 0; run < 1000; run++) {
      const w = new LayerPauses();
      const frames = { h: 0, l: 0 };
      const pausesAt: Record<string, number[]> = { h: [], l: [] };
      const open = new Set<string>();
      for (let i = 0; i <= 150; i++) {
        for (const rid of ['h', 'l'] as const) if (random() < 0.5) frames[rid] += 30;
        for (const c of w.update([{ rid: 'h', framesSent: frames.h, limitation: 'cpu' }, { rid: 'l', framesSent: frames.l, limitation: 'cpu' }], i * 2000)) {
          if (c.kind === 'paused') {
            assert.ok(!open.has(c.rid), 'a pause told twice without its end');
            pausesAt[c.rid]?.push(i * 2000);
            open.add(c.rid);
          } else {
            assert.ok(open.delete(c.rid), 'an end told of a pause not told');
          }
        }
      }
      for (const at of Object.values(pausesAt)) for (let k = 1; k < at.length; k++) assert.ok((at[k] ?? 0) - (at[k - 1] ?? 0) >= PAUSES_TOLD_EVERY_MS, `pauses told ${at.join(', ')} ms`);
    }
  });

  it('watches nothing with a single layer', () => {
    const w = new LayerPauses();
    w.update([{ rid: '', framesSent: 10, limitation: 'cpu' }], 0);
    assert.deepEqual(w.update([{ rid: '', framesSent: 10, limitation: 'cpu' }], 10_000), []);
  });
});
