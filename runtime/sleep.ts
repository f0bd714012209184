/**
 * Waiting that a stop cuts short: {@link sleep} resolves after a time, or as soon as its signal
 * aborts, so a loop that waits between attempts stops at once when its program stops.
 *
 * @example
 * ```ts
 * import { sleep } from "./sleep.ts";
 *
 * const stop = new AbortController();
 * while (!stop.signal.aborted) {
 *   // ... one attempt ...
 *   await sleep(1000, { signal: stop.signal });
 * }
 * ```
 *
 * @module
 */

/** Options of {@link sleep}. */
export interface SleepOptions {
  /** Ends the wait early (the promise resolves; the caller checks `signal.aborted`). */
  readonly signal?: AbortSignal;
}

/**
 * Resolves after `ms` milliseconds, or when `options.signal` aborts, whichever comes first.
 * Throws `RangeError` for a negative or non-finite `ms`.
 */
export function sleep(ms: number, options: SleepOptions = {}): Promise<void> {
  if (!Number.isFinite(ms) || ms < 0) {
    throw new RangeError(`Cannot sleep for ${ms} ms: a finite number of 0 or more`);
  }
  const { signal } = options;
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
