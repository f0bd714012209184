/**
 * Working through many items a few at a time: {@link pooled} runs `work` on each item with at
 * most `concurrency` running at once, taking the items in order as places free up.
 *
 * It fails fast and leaves nothing behind: after the first rejection (or once the signal
 * aborts) no further item starts, the ones running are waited for, and then the promise
 * rejects with that first error (or the signal's reason). Later rejections of items already
 * running are not reported: work that must account for every failure handles its own.
 *
 * @example
 * ```ts
 * import { pooled } from "./pool.ts";
 *
 * const urls = ["https://example.com/a", "https://example.com/b", "https://example.com/c"];
 * await pooled(urls, async (url) => {
 *   await (await fetch(url)).body?.cancel();
 * }, { concurrency: 2 });
 * ```
 *
 * @module
 */

/** Options of {@link pooled}. */
export interface PoolOptions {
  /** Items worked on at once at most: an integer of 1 or more (`RangeError` otherwise). */
  readonly concurrency: number;
  /**
   * Stops starting items (the ones running go on, and are waited for); aborted before the end
   * of the items was reached, the promise rejects with its reason.
   */
  readonly signal?: AbortSignal;
}

/**
 * Runs `work(item)` for each of `items`, `options.concurrency` at a time; resolves when every
 * item is done. See the module documentation for a rejection and an abort.
 */
export async function pooled<T>(
  items: Iterable<T>,
  work: (item: T) => Promise<void>,
  options: PoolOptions,
): Promise<void> {
  const { concurrency, signal } = options;
  if (!(Number.isInteger(concurrency) && concurrency >= 1)) {
    throw new RangeError(`Invalid concurrency ${concurrency} (expected an integer of 1 or more)`);
  }
  const iterator = items[Symbol.iterator]();
  let failure: { error: unknown } | undefined;
  let exhausted = false;
  const worker = async () => {
    while (!failure && !exhausted && !signal?.aborted) {
      try {
        const next = iterator.next();
        if (next.done) {
          exhausted = true;
          return;
        }
        await work(next.value);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  if (failure) throw failure.error;
  // Stopped before the end of the items was seen: said, so the caller does not take it for done.
  if (!exhausted) signal?.throwIfAborted();
}
