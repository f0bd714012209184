/**
 * KV compare-and-swap that holds on a replicated bucket. nats-server 2.9 checks a write's
 * expected last revision (`Nats-Expected-Last-Subject-Sequence`) against what its stream has
 * stored when the write arrives, and, on a replicated (clustered) stream, not again when the
 * write is applied: several writes made from the same revision at the same moment all pass the
 * check before the first is applied, and all succeed (measured: up to 12 of 12 concurrent
 * `kv.update(key, value, revision)` on an R3 bucket). The last one silently undoes the others
 * (a cancelled deployment running again, a claim lost).
 *
 * {@link atomicUpdates} makes each update also carry a message id made of the key and the
 * revision it was made from. Message ids are checked when a write is applied, in order, so of
 * the writes made from one revision only the first is stored; the others come back as
 * duplicates, which are reported as the revision conflict they are. A write from an older
 * revision than the duplicate window covers is refused by the arrival check as before.
 *
 * @example
 * ```ts
 * import { jetstream } from "@nats-io/jetstream";
 * import { Kvm } from "@nats-io/kv";
 * import { atomicUpdates } from "./atomic_updates.ts";
 * declare const nc: import("@nats-io/nats-core").NatsConnection;
 *
 * const kv = atomicUpdates(await new Kvm(nc).open("deployments"), {
 *   js: jetstream(nc),
 *   bucket: "deployments",
 * });
 * const e = await kv.get("dep-1");
 * await kv.update("dep-1", "{}", e!.revision); // throws a revision conflict if another won
 * ```
 *
 * @module
 */
import { JetStreamApiCodes, JetStreamApiError, type JetStreamClient } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { isRevisionConflict } from "./transient_error.ts";

/** Options of {@link atomicUpdates}. */
export interface AtomicUpdatesOptions {
  /** Publishes the writes. */
  readonly js: JetStreamClient;
  /** The bucket whose subjects are written (the original's, for a KV opened on a mirror). */
  readonly bucket: string;
}

/** A key nats.js accepts (its `validKeyRe`). */
const KEY = /^[-/=.\w]+$/;

/**
 * `kv` whose `update` (and `create` over a deleted key) are atomic compare-and-swaps: see the
 * module documentation. Everything else is `kv`'s own.
 */
export function atomicUpdates(kv: KV, options: AtomicUpdatesOptions): KV {
  const { js, bucket } = options;
  const subject = (key: string) => {
    if (!KEY.test(key) || key.startsWith(".") || key.endsWith(".")) {
      throw new TypeError(`Invalid key ${JSON.stringify(key)} for bucket ${bucket}`);
    }
    return `$KV.${bucket}.${key}`;
  };
  const update = async (
    key: string,
    data: Parameters<KV["update"]>[1],
    version: number,
    timeout?: number,
  ): Promise<number> => {
    if (!(Number.isInteger(version) && version > 0)) {
      throw new RangeError(`Invalid revision ${version} for ${bucket}/${key} (expected > 0)`);
    }
    const ack = await js.publish(subject(key), data, {
      expect: { lastSubjectSequence: version },
      msgID: `${key}@${version}`,
      ...(timeout ? { timeout } : {}),
    });
    if (ack.duplicate) {
      throw new JetStreamApiError({
        code: 400,
        err_code: JetStreamApiCodes.StreamWrongLastSequence,
        description:
          `wrong last sequence: ${bucket}/${key} was changed from revision ${version} by another write at ${ack.seq}`,
      });
    }
    return ack.seq;
  };
  const create = async (key: string, data: Parameters<KV["create"]>[1]): Promise<number> => {
    try {
      // Expected revision 0 is checked when the write is applied: atomic as it is.
      return (await js.publish(subject(key), data, { expect: { lastSubjectSequence: 0 } })).seq;
    } catch (err) {
      if (!isRevisionConflict(err)) throw err;
      // There already, or deleted: a deleted key is written over its delete marker.
      const e = await kv.get(key);
      if (e?.operation !== "DEL" && e?.operation !== "PURGE") throw err;
      return await update(key, data, e.revision);
    }
  };
  const own: Partial<Record<PropertyKey, unknown>> = { update, create };
  return new Proxy(kv, {
    get(target, prop) {
      if (prop in own) return own[prop];
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
