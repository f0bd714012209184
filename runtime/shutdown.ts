/**
 * Turns SIGINT and SIGTERM into an AbortSignal, so a process shuts down through the same
 * cancellation path as everything else.
 *
 * @module
 */

/** Options of {@link onShutdown}. */
export interface ShutdownOptions {
  /**
   * Whether a second SIGINT or SIGTERM exits at once (code 130). Default true; false for a
   * process that must see its children stop first (a supervisor).
   */
  readonly exitOnSecondSignal?: boolean;
}

/** Returns a signal that aborts on the first SIGINT or SIGTERM; a second one exits at once. */
export function onShutdown(options: ShutdownOptions = {}): AbortSignal {
  const exitOnSecond = options.exitOnSecondSignal ?? true;
  const controller = new AbortController();
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(sig, () => {
      if (controller.signal.aborted) {
        if (exitOnSecond) Deno.exit(130);
        return;
      }
      controller.abort(new Error(`received ${sig}`));
    });
  }
  watchParent(controller);
  return controller.signal;
}

/**
 * With `VEND_EXIT_WITH_PARENT=1` (set by a parent that spawns this process with a stdin pipe it
 * never writes, as `./vend demo` does) the process stops when its stdin closes: the parent died,
 * even by SIGKILL, and its children must not linger.
 */
export function watchParent(controller: AbortController): void {
  if (Deno.env.get("VEND_EXIT_WITH_PARENT") !== "1") return;
  (async () => {
    try {
      for await (const _ of Deno.stdin.readable) { /* nothing is written */ }
    } catch { /* closed */ }
    controller.abort(new Error("the parent process is gone"));
  })();
}
