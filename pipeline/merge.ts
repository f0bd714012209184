/**
 * Merges several streams into one, in arrival order, keeping each stream's backpressure.
 *
 * @module
 */

/** One stream of everything the inputs deliver; it ends when all inputs end, and fails when one fails. */
export function mergeStreams<T>(streams: readonly ReadableStream<T>[]): ReadableStream<T> {
  const { readable, writable } = new TransformStream<T, T>();
  const writer = writable.getWriter();
  Promise.all(streams.map(async (stream) => {
    for await (const item of stream) await writer.write(item);
  })).then(() => writer.close(), (e) => writer.abort(e)).catch(() => {
    // Closing or aborting fails only when the reader cancelled the merged stream (it is errored
    // already): nobody is there to tell. An input's failure reached the reader through abort.
  });
  return readable;
}
