/**
 * Stops waiting for work that cannot be cancelled itself (a connection attempt, a request):
 * {@link abortable} settles with the work, or rejects with the signal's reason as soon as the
 * signal aborts. The work goes on; `onLate` disposes of what it yields after the caller left.
 *
 * @example
 * ```ts
 * import { abortable } from "./abortable.ts";
 *
 * const stop = new AbortController();
 * const answer = fetch("https://example.com");
 * stop.abort(new Error("stopping"));
 * await abortable(answer, { signal: stop.signal }).catch((e) => console.log(e.message));
 * ```
 *
 * @module
 */

/** Options of {@link abortable}. */
export interface AbortableOptions<T> {
  /** Stops the wait. Without one, the work's own promise is returned. */
  readonly signal?: AbortSignal;
  /** Called with what the work yields after the wait was stopped (to close it). */
  readonly onLate?: (value: T) => unknown;
}

/** `work`, or a rejection with `options.signal`'s reason once it aborts, whichever is first. */
export function abortable<T>(work: Promise<T>, options: AbortableOptions<T> = {}): Promise<T> {
  const { signal, onLate } = options;
  if (!signal) return work;
  return new Promise<T>((resolve, reject) => {
    let left = false;
    const onAbort = () => {
      left = true;
      reject(signal.reason);
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        if (left) onLate?.(value);
        else resolve(value);
      },
      (e) => {
        signal.removeEventListener("abort", onAbort);
        // After the caller left, the work's own failure has no one to tell.
        if (!left) reject(e);
      },
    );
  });
}
