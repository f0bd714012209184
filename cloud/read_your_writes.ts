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

/** Keys whose last written revision is remembered (the oldest are forgotten first). */
const REMEMBERED = 10_000;

/**
 * `kv` (a mirror) that reads back what was written through it: `get` asks the original when the
 * mirror lacks the key, or holds an older revision than the last one written through this
 * object (the write may not have reached the mirror yet). When the original cannot answer (the
 * primary region is down) the mirror's answer stands.
 */
export function readingYourWrites(kv: KV, original: () => Promise<KV>): KV {
  let origin: Promise<KV> | undefined;
  const written = new Map<string, number>();
  const remember = (key: string, revision: number) => {
    written.delete(key);
    written.set(key, revision);
    if (written.size > REMEMBERED) written.delete(written.keys().next().value!);
  };
  const get: KV["get"] = async (key, opts) => {
    const e = await kv.get(key, opts);
    const wanted = opts?.revision === undefined ? written.get(key) ?? 0 : 0;
    if (e && e.revision >= wanted) return e;
    origin ??= original().catch((err) => {
      origin = undefined;
      throw err;
    });
    return await origin.then((o) => o.get(key, opts)).catch(() => e);
  };
  const writing =
    (name: "create" | "put" | "update") =>
    async (key: string, ...rest: unknown[]): Promise<number> => {
      const revision = await (kv[name] as (k: string, ...r: unknown[]) => Promise<number>)
        .call(kv, key, ...rest);
      remember(key, revision);
      return revision;
    };
  const wrapped: Partial<Record<PropertyKey, unknown>> = {
    get,
    create: writing("create"),
    put: writing("put"),
    update: writing("update"),
  };
  return new Proxy(kv, {
    get(target, prop) {
      if (prop in wrapped) return wrapped[prop];
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
