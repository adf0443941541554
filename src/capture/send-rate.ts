/** Below this share of its frame rate a task's viewers see it stutter (issue 14's line for "at rate"). */
const AT_RATE = 0.9;

/**
 * The frame rate one layer is sent at, over the last `windowMs`, and whether it lags: it sends
 * under 90 % of the rate asked, although it has sent that rate before on this node. What a page
 * sends because of what it draws says nothing of the machine, so a page never lags that stood
 * still in the window (the capture had to ask it for its picture: a still page sends a frame
 * every 250 ms), nor one under half its rate (a still page where nothing asks, or one that draws
 * at its own slower pace), nor one that never reached its rate here (a slideshow). The CPU load
 * alone cannot tell a node whose tasks lose frames at 90 % of its cores from one that holds
 * them at 95 %.
 */
export class SendRate {
  private samples: { at: number; frames: number; still: number }[] = [];
  private reached = false;

  constructor(
    private readonly asked: number,
    private readonly windowMs = 10_000,
  ) {}

  /** The layer's frames sent so far, at `at` ms on any one clock, and the page's still moments so far. */
  add(frames: number, at: number, still = 0): void {
    // A new connection counts from zero again.
    if (frames < (this.samples[this.samples.length - 1]?.frames ?? 0)) this.samples = [];
    this.samples.push({ at, frames, still });
    while (this.samples.length > 2 && (this.samples[1]?.at ?? at) <= at - this.windowMs) this.samples.shift();
    const fps = this.fps();
    if (fps !== undefined && fps >= AT_RATE * this.asked) this.reached = true;
  }

  /** Frames a second over the last window; undefined until a whole window was seen. */
  fps(): number | undefined {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    if (!first || !last || last.at - first.at < this.windowMs) return undefined;
    return ((last.frames - first.frames) * 1000) / (last.at - first.at);
  }

  /** Sending under 90 % of its rate after it has sent that rate; undefined while that is not known. */
  lagging(): boolean | undefined {
    const fps = this.fps();
    if (!this.reached || fps === undefined) return undefined;
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    const stoodStill = first !== undefined && last !== undefined && last.still > first.still;
    return fps < AT_RATE * this.asked && fps >= this.asked / 2 && !stoodStill;
  }
}
