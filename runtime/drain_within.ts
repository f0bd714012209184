/**
 * Ends a NATS connection in bounded time. `nc.drain()` flushes what is pending and waits for the
 * server's answer: on a connection that is stuck (a server that no longer reads, nats.js's node
 * transport waiting for a write callback that never comes) it never ends, and neither does a
 * program that awaits it on its way out. {@link drainWithin} drains, closes when the drain takes
 * too long, and gives up on a close that does not end either.
 *
 * @example
 * ```ts
 * import { drainWithin } from "./drain_within.ts";
 * declare const nc: import("@nats-io/nats-core").NatsConnection;
 *
 * const how = await drainWithin(nc, { timeoutMs: 2000 }); // "drained", "closed" or "abandoned"
 * ```
 *
 * @module
 */
import { errors, type NatsConnection } from "@nats-io/nats-core";

/** Options of {@link drainWithin}. */
export interface DrainWithinOptions {
  /** How long the drain, and then the close, may take, ms. Default 2,000. */
  readonly timeoutMs?: number;
}

/** How a connection ended: drained, closed after a drain that took too long, or left. */
export type ConnectionEnd = "drained" | "closed" | "abandoned";

/** Resolves with `value` after `ms`, unless `work` settles first (then with its outcome). */
async function within<T, L>(work: Promise<T>, ms: number, value: L): Promise<T | L> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<L>((r) => (timer = setTimeout(() => r(value), ms)));
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Drains `nc`; when that takes over `timeoutMs` (or the connection is already draining), closes
 * it; when the close takes over `timeoutMs` too, leaves it (`"abandoned"`). A connection closed
 * already is `"closed"`. Other errors of the drain or the close are thrown.
 */
export async function drainWithin(
  nc: NatsConnection,
  options: DrainWithinOptions = {},
): Promise<ConnectionEnd> {
  const ms = options.timeoutMs ?? 2000;
  if (!Number.isFinite(ms) || ms < 0) {
    throw new RangeError(`drainWithin: timeoutMs must be a finite number of 0 or more, got ${ms}`);
  }
  if (nc.isClosed()) return "closed";
  try {
    if ((await within(nc.drain(), ms, "late" as const)) !== "late") return "drained";
  } catch (e) {
    // Closed meanwhile, or another drain under way: closing is what is left to do.
    if (e instanceof errors.ClosedConnectionError) return "closed";
    if (!(e instanceof errors.DrainingConnectionError)) throw e;
  }
  // The close of a stuck transport can hang too: then the connection is left behind.
  return (await within(nc.close().then(() => "closed" as const), ms, "abandoned" as const));
}
