/**
 * A mirror-backed KV that reads back what this instance wrote: `get` of a key the mirror does not
 * hold asks the original bucket (in the primary region). `openKv` applies it with
 * `readYourWrites: true`.
 *
 * @example
 * ```ts
 * import { Kvm } from "@nats-io/kv";
 * import { readingYourWrites } from "./read_your_writes.ts";
 * declare const nc: import("@nats-io/nats-core").NatsConnection;
 *
 * const mirror = await new Kvm(nc).open("customers", { streamName: "KV_customers_mirror_us" });
 * const kv = readingYourWrites(mirror, () => new Kvm(nc).open("customers"));
 * await kv.get("cus-1"); // from the mirror, else from the original
 * ```
 *
 * @module
 */
import type { KV } from "@nats-io/kv";

/**
 * `kv` (a mirror) whose `get` of a key it does not hold asks the original: a key this instance
 * has just created may not have reached the mirror yet. When the original cannot answer (the
 * primary region is down) the miss stands.
 */
export function readingYourWrites(kv: KV, original: () => Promise<KV>): KV {
  let origin: Promise<KV> | undefined;
  const get: KV["get"] = async (key, opts) => {
    const e = await kv.get(key, opts);
    if (e) return e;
    origin ??= original().catch((err) => {
      origin = undefined;
      throw err;
    });
    return await origin.then((o) => o.get(key, opts)).catch(() => null);
  };
  return new Proxy(kv, {
    get(target, prop) {
      if (prop === "get") return get;
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
