/**
 * Turns SIGINT and SIGTERM into an AbortSignal, so a process shuts down through the same
 * cancellation path as everything else.
 *
 * @module
 */

/** Returns a signal that aborts on the first SIGINT or SIGTERM; a second one exits at once. */
export function onShutdown(): AbortSignal {
  const controller = new AbortController();
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(sig, () => {
      if (controller.signal.aborted) Deno.exit(130);
      controller.abort(new Error(`received ${sig}`));
    });
  }
  return controller.signal;
}
