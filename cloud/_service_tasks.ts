/**
 * A group of background tasks that stop together: one abort signal for all of them, and a stop
 * that waits for them (or, with a grace period, at most that long).
 *
 * @module
 */

/** Background tasks sharing one abort signal. */
export class TaskGroup {
  readonly #abort = new AbortController();
  readonly #tasks: Promise<unknown>[] = [];

  /** Aborted when the group stops; the tasks' (and services') stop signal. */
  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  /** Adds a running task; it should settle soon after {@link signal} aborts. */
  add(task: Promise<unknown>): void {
    this.#tasks.push(task);
  }

  /**
   * Aborts the signal and waits for the tasks; with `graceMs`, at most that long (a task waiting
   * on a server that is gone does not hold the stop up).
   */
  async stop({ graceMs }: { graceMs?: number } = {}): Promise<void> {
    this.#abort.abort();
    const all = Promise.all(this.#tasks);
    if (graceMs === undefined) {
      await all;
      return;
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([all, new Promise((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
  }
}
