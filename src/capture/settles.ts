/**
 * Whether `work` settles, either way, within `ms`. A page that never yields, or a browser that
 * will not close, leaves a call pending for ever; the caller decides what waiting too long means,
 * and `work` is left to settle, or not, by itself.
 */
export async function settlesWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    // Nothing to keep the process alive for: whoever waits on it has work of its own pending.
    timer = setTimeout(() => resolve(false), ms).unref();
  });
  try {
    return await Promise.race([work.then(() => true, () => true), late]);
  } finally {
    clearTimeout(timer);
  }
}
