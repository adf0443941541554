import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HitCounter, isBlank, meanAbsDiff, RECOVERED_AFTER, SAMPLE_HEIGHT, SAMPLE_WIDTH } from '../../src/capture/monitors.js';

const picture = (f: (i: number) => [number, number, number]) => Array.from({ length: SAMPLE_WIDTH * SAMPLE_HEIGHT }, (_, i) => f(i)).flat();

describe('the page monitors’ rules', () => {
  it('calls a uniform picture blank, whatever its colour, and a picture with anything on it not', () => {
    assert.equal(isBlank(picture(() => [255, 255, 255])), true);
    assert.equal(isBlank(picture(() => [0, 0, 0])), true);
    assert.equal(isBlank(picture((i) => [30 + (i % 5), 120, 200])), true, 'encoder noise of a few levels is still blank');
    assert.equal(isBlank(picture((i) => (i === 100 ? [0, 0, 0] : [255, 255, 255]))), false, 'one dark spot is content');
  });

  it('measures change between two pictures', () => {
    const a = picture(() => [10, 10, 10]);
    assert.equal(meanAbsDiff(a, a), 0);
    assert.equal(meanAbsDiff(a, picture(() => [12, 10, 10])), 2 / 3);
    assert.equal(meanAbsDiff(a, [1, 2, 3]), Infinity);
  });

  it('refreshes after two hits in a row, reschedules after two more, and forgets hits on a clean check', () => {
    const c = new HitCounter();
    assert.deepEqual([c.check(true), c.check(true)], ['hit', 'refresh']);
    assert.deepEqual([c.check(true), c.check(true)], ['hit', 'reschedule']);
    assert.deepEqual([c.check(true), c.check(false), c.check(true), c.check(true)], ['hit', 'ok', 'hit', 'refresh']);
  });

  it('reschedules a page that blanks again soon after its refresh, and starts over for one that stayed clean', () => {
    const flapping = new HitCounter();
    assert.deepEqual([flapping.check(true), flapping.check(true)], ['hit', 'refresh']);
    // Clean for a moment after the reload, then blank again: still the second round.
    assert.deepEqual([flapping.check(false), flapping.check(true), flapping.check(true)], ['ok', 'hit', 'reschedule']);
    const recovered = new HitCounter();
    assert.deepEqual([recovered.check(true), recovered.check(true)], ['hit', 'refresh']);
    const clean = Array.from({ length: RECOVERED_AFTER }, () => recovered.check(false));
    assert.deepEqual(clean, Array<string>(RECOVERED_AFTER).fill('ok'));
    assert.deepEqual([recovered.check(true), recovered.check(true)], ['hit', 'refresh'], 'a recovered page starts over');
  });
});
