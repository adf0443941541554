import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planCapture } from '../../src/capture/layers.js';

const vs = (Width: number, Height: number, FrameRate = 15, Bitrate = 0) => ({ Width, Height, FrameRate, Bitrate });

describe('VideoSolutions to capture size and encodings', () => {
  it('renders at the one solution, in one layer', () => {
    const plan = planCapture([vs(1280, 720, 30, 2000)]);
    assert.deepEqual(plan.render, { width: 1280, height: 720, frameRate: 30 });
    assert.deepEqual(plan.layers, [{ rid: 'h', width: 1280, height: 720, scaleResolutionDownBy: 1, maxFramerate: 30, maxBitrate: 2_000_000 }]);
  });

  it('renders at the larger of two, whatever their order, with the small layer at its own rate and bitrate', () => {
    const plan = planCapture([vs(640, 360, 10, 300), vs(1920, 1080, 30)]);
    assert.deepEqual(plan.render, { width: 1920, height: 1080, frameRate: 30 });
    assert.deepEqual(plan.layers.map((l) => [l.rid, l.width, l.height, l.scaleResolutionDownBy, l.maxFramerate, l.maxBitrate]), [
      ['h', 1920, 1080, 1, 30, undefined],
      ['l', 640, 360, 3, 10, 300_000],
    ]);
  });

  it('fits a small layer of another shape inside its size, keeping the page’s aspect', () => {
    const plan = planCapture([vs(1280, 720), vs(640, 480)]);
    const small = plan.layers[1];
    assert.equal(small?.scaleResolutionDownBy, 2);
    assert.deepEqual([small?.width, small?.height], [640, 360]);
  });
});
