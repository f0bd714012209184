/**
 * A bounded queue for live video: writes never wait; when it is full the oldest item is dropped
 * (and disposed) and counted, so a slow consumer sees the newest frames, never a growing delay.
 *
 * @example
 * ```ts
 * import { liveQueue } from "./live_queue.ts";
 * import { StageMetrics } from "./stage_metrics.ts";
 *
 * const q = liveQueue<Disposable>(4, { metrics: new StageMetrics("cam-1") });
 * // camera.pipeTo(q.writable); q.readable.pipeTo(nextStage)
 * ```
 *
 * @module
 */
import type { StageMetrics } from "./stage_metrics.ts";

/** A drop-oldest queue as a writable/readable pair. */
export function liveQueue<T extends Disposable>(
  capacity: number,
  options: { metrics?: StageMetrics } = {},
): { writable: WritableStream<T>; readable: ReadableStream<T> } {
  if (!Number.isInteger(capacity) || capacity < 1) {
    throw new RangeError(`Invalid live queue capacity ${capacity}`);
  }
  const items: T[] = [];
  let waiting: (() => void) | undefined;
  let closed = false;
  let failure: unknown;
  const metrics = options.metrics;
  const wake = () => {
    const w = waiting;
    waiting = undefined;
    w?.();
  };
  const writable = new WritableStream<T>({
    write(item) {
      metrics?.recordIn();
      items.push(item);
      while (items.length > capacity) {
        items.shift()![Symbol.dispose]();
        metrics?.recordDrop();
      }
      metrics?.setQueueDepth(items.length);
      wake();
    },
    close() {
      closed = true;
      wake();
    },
    abort(reason) {
      failure = reason ?? new Error("live queue aborted");
      closed = true;
      wake();
    },
  }, new CountQueuingStrategy({ highWaterMark: 1 }));
  const readable = new ReadableStream<T>({
    async pull(controller) {
      while (items.length === 0 && !closed) {
        await new Promise<void>((resolve) => (waiting = resolve));
      }
      if (items.length > 0) {
        controller.enqueue(items.shift()!);
        metrics?.recordOut(0); // frames/s of the queue is what it delivers
        metrics?.setQueueDepth(items.length);
        return;
      }
      if (failure !== undefined) controller.error(failure);
      else controller.close();
    },
    cancel() {
      closed = true;
      for (const item of items.splice(0)) item[Symbol.dispose]();
    },
  }, new CountQueuingStrategy({ highWaterMark: 0 }));
  return { writable, readable };
}
