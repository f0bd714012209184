/**
 * Running nats-server as a child process: its log kept for errors, readiness awaited. Shared by
 * the single local server and the local supercluster.
 *
 * @module
 */

/** Keeps the last lines a child wrote, so a failure can say why. */
export class TailLines {
  #lines: string[] = [];
  readonly listeners = new Set<(line: string) => void>();
  #waiters: Array<{ pattern: RegExp; resolve: (line: string) => void }> = [];

  push(line: string): void {
    this.#lines.push(line);
    if (this.#lines.length > 200) this.#lines.shift();
    for (const l of this.listeners) l(line);
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.pattern.test(line)) return true;
      w.resolve(line);
      return false;
    });
  }

  waitFor(pattern: RegExp): Promise<string> {
    const seen = this.#lines.find((l) => pattern.test(l));
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve) => this.#waiters.push({ pattern, resolve }));
  }

  text(): string {
    return this.#lines.join("\n");
  }

  find(pattern: RegExp): string | undefined {
    return this.#lines.find((l) => pattern.test(l));
  }
}

export async function pump(stream: ReadableStream<Uint8Array>, tail: TailLines): Promise<void> {
  let rest = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    const parts = (rest + chunk).split("\n");
    rest = parts.pop() ?? "";
    for (const line of parts) tail.push(line);
  }
  if (rest !== "") tail.push(rest);
}

/** A nats-server child: the process, its log and its exit. */
export interface NatsChild {
  /** The process. */
  readonly child: Deno.ChildProcess;
  /** Its last log lines. */
  readonly tail: TailLines;
  /** Resolves when it has exited and its output is read. */
  readonly exited: Promise<Deno.CommandStatus>;
}

/** Spawns nats-server with `args`; throws what `Deno.Command` throws (e.g. not installed). */
export function spawnNats(serverPath: string, args: string[]): NatsChild {
  const child = new Deno.Command(serverPath, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const tail = new TailLines();
  const pumps = Promise.all([pump(child.stdout, tail), pump(child.stderr, tail)]);
  const exited = child.status.then(async (status) => {
    // Output that could not be read is said where the server's log is read (a failure's text).
    await pumps.catch((e) => tail.push(`(nats-server output unreadable: ${String(e)})`));
    return status;
  });
  return { child, tail, exited };
}

/**
 * Sends `signal` to `child` unless it has exited: Deno says so with a TypeError ("already
 * terminated"), or ESRCH (NotFound) once it is reaped. Any other failure throws.
 */
export function signalIfRunning(child: Deno.ChildProcess, signal: Deno.Signal): void {
  try {
    child.kill(signal);
  } catch (e) {
    if (!(e instanceof TypeError) && !(e instanceof Deno.errors.NotFound)) throw e;
  }
}

/** Removes `path` (with `options`); one that is not there is fine, any other failure throws. */
export async function removeIfPresent(path: string, options?: Deno.RemoveOptions): Promise<void> {
  try {
    await Deno.remove(path, options);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}

/** Waits until the server says it is ready, exits, or `timeoutMs` passes. */
export async function awaitReady(
  nats: NatsChild,
  timeoutMs: number,
): Promise<"ready" | "exited" | "timeout"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const outcome = await Promise.race([
    nats.tail.waitFor(/Server is ready/).then(() => "ready" as const),
    nats.exited.then(() => "exited" as const),
    new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), timeoutMs))),
  ]);
  clearTimeout(timer);
  return outcome;
}
