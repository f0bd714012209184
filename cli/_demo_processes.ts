/**
 * The demo's child processes (cloud services and agents): started in turn, all stopped at the
 * end, and read until they say they are up.
 *
 * @module
 */

/** The child processes the demo started, in the order it started them. */
export class ChildProcesses {
  readonly #children: Deno.ChildProcess[] = [];

  /** Records a started child, to be stopped by {@link stopAll}. */
  add(child: Deno.ChildProcess): void {
    this.#children.push(child);
  }

  /** Sends every child SIGTERM and waits for all of them to exit. */
  async stopAll(): Promise<void> {
    for (const c of this.#children) {
      try {
        c.kill("SIGTERM");
      } catch (e) {
        // Exited already (Deno: a TypeError, or ESRCH once reaped). Anything else throws.
        if (!(e instanceof TypeError) && !(e instanceof Deno.errors.NotFound)) throw e;
      }
    }
    await Promise.allSettled(this.#children.map((c) => c.status));
  }
}

/** Reads lines from a child's stdout until one starts with `prefix`; keeps draining afterwards. */
export async function readUntil(
  stream: ReadableStream<Uint8Array>,
  prefix: string,
): Promise<string | undefined> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return undefined;
    buffer += value;
    let nl;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (line.startsWith(prefix)) {
        // The rest is drained (a full pipe would stall the child); a read that fails is said.
        (async () => {
          while (!(await reader.read()).done) { /* drain */ }
        })().catch((e) => console.error(`demo: a child's output: ${(e as Error).message}`));
        return line.slice(prefix.length).trim();
      }
    }
  }
}
