/**
 * Read-modify-write of one key of a NATS KV bucket: {@link compareAndSwap} reads the entry,
 * asks `change` for the new value, and writes it only over the revision it read (a create when
 * there is none, or it was deleted). When another writer got there first (a revision conflict,
 * told apart by JetStream's code: {@link isRevisionConflict}) it reads again and asks again, a
 * bounded number of times, then throws {@link CompareAndSwapExhaustedError}: never gives up
 * silently.
 *
 * @example
 * ```ts
 * import type { KV } from "@nats-io/kv";
 * import { compareAndSwap } from "./kv_compare_and_swap.ts";
 * declare const kv: KV;
 *
 * // Two instances doing this at once both count.
 * const written = await compareAndSwap({ kv, key: "visits" }, (n?: number) => (n ?? 0) + 1);
 * console.log(written?.value, written?.revision);
 * ```
 *
 * @module
 */
import { JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";
import type { KV, KvEntry } from "@nats-io/kv";
import type { Payload } from "@nats-io/nats-core";
import { retry } from "./retry.ts";

/**
 * Whether a KV write failed because the key changed (or exists) since the revision given:
 * JetStream's "wrong last sequence" (10071, or 10164 when the last one is not known).
 */
export function isRevisionConflict(e: unknown): boolean {
  return e instanceof JetStreamApiError &&
    (e.code === JetStreamApiCodes.StreamWrongLastSequence ||
      e.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown);
}

/** A write lost a compare-and-swap: the entry changed (or exists, or is gone) since it was read. */
export class RevisionConflictError extends Error {
  /** The key written. */
  readonly key: string;
  /** Creates the error. */
  constructor(key: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RevisionConflictError";
    this.key = key;
  }
}

/** {@link compareAndSwap} met a revision conflict on every attempt; `cause` is the last one. */
export class CompareAndSwapExhaustedError extends Error {
  /** The key written. */
  readonly key: string;
  /** The attempts made. */
  readonly attempts: number;
  /** Creates the error. */
  constructor(key: string, attempts: number, options?: ErrorOptions) {
    super(
      `Cannot change "${key}": another write came first on each of ${attempts} attempts`,
      options,
    );
    this.name = "CompareAndSwapExhaustedError";
    this.key = key;
    this.attempts = attempts;
  }
}

/** The key {@link compareAndSwap} changes. */
export interface KvKey {
  /** Its bucket. */
  readonly kv: KV;
  /** The key. */
  readonly key: string;
}

/**
 * The new value made of the current one (`undefined` when the key is missing, deleted or
 * purged; `entry` as read, if any), or `undefined` to write nothing. It may run more than once
 * (once per attempt), so it is to have no effects the next run does not undo.
 */
export type KvChange<T> = (
  current: T | undefined,
  entry: KvEntry | undefined,
) => T | undefined | Promise<T | undefined>;

/** Options of {@link compareAndSwap}. */
export interface CompareAndSwapOptions<T> {
  /** Attempts over revision conflicts, the first included. Default 20. */
  readonly attempts?: number;
  /** The wait after a conflict, ms: a number, or one for the attempt that lost. Default 0. */
  readonly delayMs?: number | ((attempt: number) => number);
  /** Stops the attempts (between them: the promise rejects with its reason). */
  readonly signal?: AbortSignal;
  /** A value as written. Default `JSON.stringify`. */
  readonly encode?: (value: T) => Payload;
  /** A stored value (of a `PUT` entry). Default the entry's JSON. */
  readonly decode?: (entry: KvEntry) => T;
}

/** What {@link compareAndSwap} wrote: the value and its revision. */
export interface Swapped<T> {
  /** The value written. */
  readonly value: T;
  /** Its revision in the bucket. */
  readonly revision: number;
}

/**
 * Changes `target.key` to what `change` makes of its current value, by compare-and-swap over
 * the revision read, reading again on a conflict; `undefined` when `change` wrote nothing.
 * Throws {@link CompareAndSwapExhaustedError} when every attempt lost; whatever else fails
 * (the read, `change`, `decode`, a write refused otherwise) propagates at once.
 */
export function compareAndSwap<T>(
  target: KvKey,
  change: (current: T | undefined, entry: KvEntry | undefined) => T | Promise<T>,
  options?: CompareAndSwapOptions<T>,
): Promise<Swapped<T>>;
/** As above, for a `change` that may write nothing (then the promise resolves `undefined`). */
export function compareAndSwap<T>(
  target: KvKey,
  change: KvChange<T>,
  options?: CompareAndSwapOptions<T>,
): Promise<Swapped<T> | undefined>;
export async function compareAndSwap<T>(
  target: KvKey,
  change: KvChange<T>,
  options: CompareAndSwapOptions<T> = {},
): Promise<Swapped<T> | undefined> {
  const { kv, key } = target;
  const { attempts = 20, delayMs, signal } = options;
  const encode = options.encode ?? JSON.stringify;
  const decode = options.decode ?? ((e: KvEntry) => e.json<T>());
  // Only a conflict of this call's own write is tried again (not one `change` lets through).
  let lost: unknown;
  try {
    return await retry(async () => {
      const entry = (await kv.get(key)) ?? undefined;
      const stored = entry?.operation === "PUT" ? entry : undefined;
      const value = await change(stored ? decode(stored) : undefined, entry);
      if (value === undefined) return undefined;
      const data = encode(value);
      try {
        const revision = stored
          ? await kv.update(key, data, stored.revision)
          : await kv.create(key, data);
        return { value, revision };
      } catch (e) {
        if (isRevisionConflict(e)) lost = e;
        throw e;
      }
    }, {
      attempts,
      retryIf: (e) => lost !== undefined && e === lost,
      ...(delayMs === undefined ? {} : { delayMs }),
      ...(signal ? { signal } : {}),
    });
  } catch (e) {
    if (lost === undefined || e !== lost) throw e;
    throw new CompareAndSwapExhaustedError(key, attempts, { cause: e });
  }
}
