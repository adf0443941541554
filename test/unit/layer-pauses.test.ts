import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LayerPauses } from '../../src/capture/layer-pauses.js';

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
    assert.deepEqual(w.update(both(30, 90), 6000), [{ kind: 'paused', rid: 'h', limitation: 'bandwidth' }]);
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
    assert.deepEqual(w.update(both(0, 60, ''), 4000), [{ kind: 'paused', rid: 'h', limitation: 'none' }]);
  });

  it('watches nothing with a single layer', () => {
    const w = new LayerPauses();
    w.update([{ rid: '', framesSent: 10, limitation: 'cpu' }], 0);
    assert.deepEqual(w.update([{ rid: '', framesSent: 10, limitation: 'cpu' }], 10_000), []);
  });
});
