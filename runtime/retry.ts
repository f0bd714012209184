/**
 * Doing something again when it failed in a way worth another try: {@link retry} runs `fn`,
 * and on a rejection `retryIf` accepts, while tries remain, waits (a stop cuts the wait short)
 * and runs it again. What it gives up on propagates unchanged: the last error, or the first one
 * `retryIf` refuses.
 *
 * @example
 * ```ts
 * import { retry } from "./retry.ts";
 *
 * const stop = new AbortController();
 * const page = await retry(() => fetch("https://example.com"), {
 *   attempts: 3,
 *   retryIf: (e) => e instanceof TypeError, // the network, not an answer
 *   delayMs: (attempt) => 500 * attempt,
 *   signal: stop.signal,
 * });
 * ```
 *
 * @module
 */
import { sleep } from "./sleep.ts";

/** Options of {@link retry}. */
export interface RetryOptions {
  /** Tries in all, the first included: an integer of 1 or more (`RangeError` otherwise). */
  readonly attempts: number;
  /** Whether a rejection is worth another try; one it refuses propagates at once. */
  readonly retryIf: (error: unknown) => boolean;
  /**
   * The wait before trying again, ms: a number, or one for the try that just failed (1 for the
   * first). Default 0 (at once).
   */
  readonly delayMs?: number | ((attempt: number) => number);
  /**
   * Stops trying: once it aborts, no further try starts (the promise rejects with its reason
   * after the wait it cuts short). It is looked at between tries only: `fn` honours it itself.
   */
  readonly signal?: AbortSignal;
}

/**
 * Runs `fn(attempt)` (attempt 1, 2, ...) until it resolves, up to `options.attempts` times, for as
 * long as each rejection is one `options.retryIf` accepts; see the module documentation.
 */
export async function retry<T>(
  fn: (attempt: number) => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  const { attempts, retryIf, delayMs = 0, signal } = options;
  if (!(Number.isInteger(attempts) && attempts >= 1)) {
    throw new RangeError(`Invalid attempts ${attempts} (expected an integer of 1 or more)`);
  }
  for (let attempt = 1;; attempt++) {
    try {
      return await fn(attempt);
    } catch (e) {
      if (attempt >= attempts || !retryIf(e)) throw e;
    }
    const wait = typeof delayMs === "function" ? delayMs(attempt) : delayMs;
    if (wait !== 0) await sleep(wait, signal ? { signal } : {});
    signal?.throwIfAborted();
  }
}
