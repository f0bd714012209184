/**
 * Which errors from NATS are passing: a request that timed out, no one answering (a stream
 * whose leader is being elected, a region coming back), a connection that dropped. What failed
 * on one of these is worth doing again; any other error will fail the same way.
 *
 * @example
 * ```ts
 * import { isTransientNatsError } from "./transient_error.ts";
 * isTransientNatsError(new Error("timeout")); // false: only nats.js's own error classes count
 * ```
 *
 * @module
 */
import { JetStreamApiError } from "@nats-io/jetstream";

const TRANSIENT_NAMES = new Set([
  "TimeoutError",
  "NoRespondersError",
  "NoResponders",
  "RequestError",
  "ConnectionError",
  "ClosedConnectionError",
  "DrainingConnectionError",
  "JetStreamNotEnabled",
]);

/** True when `e` says the stream asked for does not exist (JetStream's "stream not found"). */
export function isStreamNotFound(e: unknown): boolean {
  return e instanceof Error && /stream not found/i.test(e.message);
}

/** Whether a KV write failed because the key changed (or exists) since the revision given. */
export function isRevisionConflict(e: unknown): boolean {
  return /wrong last sequence|key exists|10071/i.test(String((e as Error)?.message ?? e));
}

/**
 * True when `e` is JetStream refusing to create a durable consumer that is there already
 * (10148: the name exists with another config; 10013: the name is in use).
 */
export function isConsumerExists(e: unknown): boolean {
  return e instanceof JetStreamApiError && (e.code === 10148 || e.code === 10013);
}

/** True when `e` (or its cause) is a NATS error that a later attempt may not meet. */
export function isTransientNatsError(e: unknown): boolean {
  for (let cur = e, depth = 0; cur instanceof Error && depth < 5; depth++) {
    if (TRANSIENT_NAMES.has(cur.name)) return true;
    // JetStream's "temporarily unavailable" (503) while a stream or the metadata leader moves.
    if (cur.name === "JetStreamApiError" && /temporarily unavailable|503/i.test(cur.message)) {
      return true;
    }
    cur = cur.cause;
  }
  return false;
}
