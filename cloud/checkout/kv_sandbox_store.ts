/**
 * The sandbox payment provider's state in a NATS KV bucket (`payment_sandbox`): holds and
 * idempotency records survive a restart of the cloud, and every write is a compare-and-swap, so
 * several cloud instances share one consistent sandbox.
 *
 * @example
 * ```ts
 * import { connect } from "@nats-io/transport-node";
 * import { SandboxProvider } from "../../payments/mod.ts";
 * import { KvSandboxStore } from "./kv_sandbox_store.ts";
 *
 * const nc = await connect({ servers: "127.0.0.1:4222" });
 * const provider = new SandboxProvider(await KvSandboxStore.open(nc));
 * ```
 *
 * @module
 */
import { openKv } from "../nats/mod.ts";
import type { NatsConnection } from "@nats-io/nats-core";
import type { KV } from "@nats-io/kv";
import type { SandboxStore } from "../../payments/mod.ts";
import { buckets } from "../../protocol/mod.ts";
import { isRevisionConflict } from "../fleet/mod.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A {@link SandboxStore} over NATS KV. */
export class KvSandboxStore implements SandboxStore {
  readonly #kv: KV;

  private constructor(kv: KV) {
    this.#kv = kv;
  }

  /** Opens (creating if needed) the `payment_sandbox` bucket. */
  static async open(nc: NatsConnection): Promise<KvSandboxStore> {
    return new KvSandboxStore(await openKv(nc, buckets.paymentSandbox, { history: 1 }));
  }

  /** The value and revision under `key`. */
  async get(key: string): Promise<{ value: string; revision: number } | undefined> {
    const e = await this.#kv.get(key);
    if (!e || e.operation !== "PUT") return undefined;
    return { value: decoder.decode(e.value), revision: e.revision };
  }

  /** Stores `value` unless `key` exists. */
  async create(key: string, value: string): Promise<boolean> {
    try {
      await this.#kv.create(key, encoder.encode(value));
      return true;
    } catch (e) {
      if (isRevisionConflict(e)) return false;
      throw e;
    }
  }

  /** Replaces the value at `revision`. */
  async update(key: string, value: string, revision: number): Promise<boolean> {
    try {
      await this.#kv.update(key, encoder.encode(value), revision);
      return true;
    } catch (e) {
      if (isRevisionConflict(e)) return false;
      throw e;
    }
  }
}
