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
import { JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";

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

/**
 * JetStream's "temporarily unavailable" (10008, status 503): no leader for the stream or for
 * the metadata yet, or a cluster that cannot answer.
 */
const CLUSTER_NOT_AVAILABLE = 10008;

/** JetStream's "no suitable peers for placement" (10005). */
const NO_SUITABLE_PEERS = 10005;

/**
 * True when `e` is JetStream refusing to place a replicated stream for want of servers (10005):
 * in a cluster that is still forming, the metadata leader does not know every server yet.
 */
export function isNoSuitablePeers(e: unknown): boolean {
  return e instanceof JetStreamApiError && e.code === NO_SUITABLE_PEERS;
}

/**
 * True when `e` is JetStream saying the stream asked for does not exist (its API's 10059, which
 * nats.js throws as a `StreamNotFoundError`).
 */
export function isStreamNotFound(e: unknown): boolean {
  return e instanceof JetStreamApiError && e.code === JetStreamApiCodes.StreamNotFound;
}

/**
 * Whether a KV write failed because the key changed (or exists) since the revision given:
 * JetStream's "wrong last sequence" (10071, or 10164 when the last one is not known).
 */
export function isRevisionConflict(e: unknown): boolean {
  return e instanceof JetStreamApiError &&
    (e.code === JetStreamApiCodes.StreamWrongLastSequence ||
      e.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown);
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
    // While a stream or the metadata leader moves.
    if (
      cur instanceof JetStreamApiError && (cur.code === CLUSTER_NOT_AVAILABLE || cur.status === 503)
    ) {
      return true;
    }
    cur = cur.cause;
  }
  return false;
}
