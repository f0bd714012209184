/**
 * A read replica of a JetStream KV bucket, kept current by a watcher. The cloud answers queries
 * from it (fast, in memory) while every write goes to the bucket; the replica is derived
 * state, rebuilt from the bucket at start, so an instance has nothing of its own to lose.
 *
 * @module
 */
import type { KV } from "@nats-io/kv";
import type { Logger } from "../../runtime/mod.ts";
import { sleep } from "../../runtime/mod.ts";

/** A value and the bucket revision it was read at. */
export interface Versioned<T> {
  /** The decoded value. */
  readonly value: T;
  /** KV revision (the ETag of the API). */
  readonly revision: number;
}

/** A replica of the keys of `bucket` under `prefix`, decoded by `decode` (entries it refuses are skipped). */
export class KvReplica<T> implements AsyncDisposable {
  readonly #entries = new Map<string, Versioned<T>>();
  readonly #first = new Map<string, number>();
  readonly #kv: KV;
  readonly #prefix: string;
  readonly #decode: (bytes: Uint8Array) => T | undefined;
  #stop: (() => void) | undefined;
  #listeners = new Set<(key: string, entry: Versioned<T> | undefined) => void>();
  readonly #logger: Logger | undefined;

  private constructor(
    kv: KV,
    prefix: string,
    decode: (bytes: Uint8Array) => T | undefined,
    logger: Logger | undefined,
  ) {
    this.#kv = kv;
    this.#prefix = prefix;
    this.#decode = decode;
    this.#logger = logger;
  }

  /**
   * Opens the replica; resolves once the bucket's current content is loaded. `logger` is told
   * when the replica stops following the bucket on an error (a decoder or listener that threw).
   */
  static async open<T>(
    kv: KV,
    options: { prefix?: string; decode: (bytes: Uint8Array) => T | undefined; logger?: Logger },
  ): Promise<KvReplica<T>> {
    const r = new KvReplica<T>(kv, options.prefix ?? "", options.decode, options.logger);
    await r.#start();
    return r;
  }

  async #start(): Promise<void> {
    const watcher = await this.#kv.watch({ key: this.#prefix ? `${this.#prefix}>` : ">" });
    this.#stop = () => watcher.stop();
    let loaded: () => void = () => {};
    const initial = new Promise<void>((resolve) => (loaded = resolve));
    let pending = true;
    (async () => {
      for await (const e of watcher) {
        const key = e.key.slice(this.#prefix.length);
        if (e.operation === "PUT") {
          const value = this.#decode(e.value);
          if (value !== undefined) {
            const entry = { value, revision: e.revision };
            if (!this.#entries.has(key)) this.#first.set(key, e.revision);
            this.#entries.set(key, entry);
            for (const l of this.#listeners) l(key, entry);
          }
        } else {
          this.#entries.delete(key);
          this.#first.delete(key);
          for (const l of this.#listeners) l(key, undefined);
        }
        if (pending && e.delta === 0) {
          pending = false;
          loaded();
        }
      }
    })().catch((e) =>
      // Unexpected (a decoder or listener that threw): the replica is stale from here on.
      this.#logger?.log("error", "a KV replica stopped following its bucket", {
        bucket: (this.#kv as Partial<{ bucket: string }>).bucket, // nats.js's KV has its name
        prefix: this.#prefix,
        error: String(e),
      })
    );
    // With no matching key the watcher delivers nothing at all: check for one.
    let any = false;
    for await (const _ of await this.#kv.keys(this.#prefix ? `${this.#prefix}>` : ">")) {
      any = true;
      break;
    }
    if (!any && pending) {
      pending = false;
      loaded();
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([initial, new Promise((r) => (timer = setTimeout(r, 10_000)))]);
    clearTimeout(timer);
  }

  /** The entry at `key`. */
  get(key: string): Versioned<T> | undefined {
    return this.#entries.get(key);
  }

  /** The revision at which `key` (re)appeared in the replica. */
  firstRevision(key: string): number | undefined {
    return this.#first.get(key);
  }

  /** Every entry, by key. */
  entries(): IterableIterator<[string, Versioned<T>]> {
    return this.#entries.entries();
  }

  /** Number of entries. */
  get size(): number {
    return this.#entries.size;
  }

  /** Waits until the replica holds `key` at revision `revision` or later (after a write of ours). */
  async caughtUp(key: string, revision: number, timeoutMs = 2000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ((this.#entries.get(key)?.revision ?? 0) < revision && Date.now() < deadline) {
      await sleep(5);
    }
  }

  /** Calls `listener` on every change. */
  onChange(listener: (key: string, entry: Versioned<T> | undefined) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Stops watching. */
  [Symbol.asyncDispose](): Promise<void> {
    this.#stop?.();
    return Promise.resolve();
  }
}
