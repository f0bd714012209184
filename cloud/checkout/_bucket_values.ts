/**
 * Reading a whole KV bucket (the books check and the tools that list every session).
 *
 * @module
 */
import type { KV } from "@nats-io/kv";

/** Every value of a bucket. */
export async function readAll<T>(kv: KV): Promise<T[]> {
  const out: T[] = [];
  for await (const key of await kv.keys()) {
    const e = await kv.get(key);
    if (e?.operation === "PUT") out.push(e.json<T>());
  }
  return out;
}
