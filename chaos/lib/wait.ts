// Polling with a bounded deadline (never a fixed sleep): the chaos cases wait on observable state.

export async function waitFor<T>(
  fn: () => T | Promise<T>,
  what: string,
  timeoutMs: number,
  everyMs = 250,
  explain?: () => string,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const why = explain ? `; ${explain()}` : last ? `: ${String(last)}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
