/**
 * The one way tests wait: poll a condition until it holds or a generous deadline passes, and
 * say what was awaited when it does not. Tests wait for conditions, never for fixed times;
 * `sleep` is for pacing (a sink's answer, a load generator) and for "nothing more happens in
 * this window" checks only.
 */

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface UntilOptions {
  /** Give up after this long (default 10 s: generous, tests run on a shared, loaded machine). */
  timeoutMs?: number;
  /** Time between two checks (default 20 ms). */
  intervalMs?: number;
  /** What is awaited, for the error message. */
  what?: string;
}

/**
 * Resolves with the first truthy value `condition` returns; rejects naming `what` once
 * `timeoutMs` passed. The condition is checked at least once, and once more after the deadline.
 */
export async function until<T>(
  condition: () => Promise<T | undefined | null | false | 0 | ''> | T | undefined | null | false | 0 | '',
  opts: UntilOptions = {},
): Promise<T> {
  const { timeoutMs = 10_000, intervalMs = 20, what = 'condition' } = opts;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const late = Date.now() > deadline;
    const value = await condition();
    if (value) return value;
    if (late) throw new Error(`${what}: not within ${timeoutMs}ms`);
    await sleep(intervalMs);
  }
}

/**
 * Like `until`, for a condition written as assertions: resolves once `assertion` stops
 * throwing; rejects with its last error (the most telling message) once `timeoutMs` passed.
 */
export async function untilPasses(assertion: () => void | Promise<void>, opts: UntilOptions = {}): Promise<void> {
  let lastError: unknown;
  const passes = async () => {
    try {
      await assertion();
      return true;
    } catch (err) {
      lastError = err;
      return false;
    }
  };
  await until(passes, opts).catch((timedOut: unknown) => {
    throw lastError ?? timedOut;
  });
}
