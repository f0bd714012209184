/**
 * A keyed token bucket: each key (a client address, a contact, `*` for everyone) may take
 * `burst` at once and one more every `everyMs`. Memory is bounded: beyond `maxKeys` the key
 * touched least recently is forgotten (a forgotten key starts full again, so the bound is a
 * trade of memory against a flood of fresh keys, which the overall bucket covers).
 *
 * @example
 * ```ts
 * import { RateLimiter } from "./rate_limiter.ts";
 *
 * const perAddress = new RateLimiter({ burst: 5, everyMs: 60_000 });
 * const wait = perAddress.take("203.0.113.7");
 * if (wait > 0) console.log(`try again in ${wait} ms`);
 * ```
 *
 * @module
 */

/** Options of {@link RateLimiter}. */
export interface RateLimiterOptions {
  /** Takes allowed at once (a full bucket). */
  readonly burst: number;
  /** One more take is allowed this often, ms. */
  readonly everyMs: number;
  /** Keys remembered (least recently used forgotten first). Default 10,000. */
  readonly maxKeys?: number;
  /** Clock, Unix ms. Default `Date.now`. */
  readonly now?: () => number;
}

/** Token buckets by key. */
export class RateLimiter {
  readonly #o: RateLimiterOptions;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  /** A limiter of `burst` takes at once and one every `everyMs`; RangeError when invalid. */
  constructor(options: RateLimiterOptions) {
    for (const [name, v] of [["burst", options.burst], ["everyMs", options.everyMs]] as const) {
      if (!Number.isFinite(v) || v <= 0) {
        throw new RangeError(`RateLimiter ${name} must be a positive number, got ${v}`);
      }
    }
    this.#o = options;
  }

  /**
   * Takes one for `key`: 0 when allowed, else how long until one is, ms (nothing is taken then,
   * so a refused caller does not push its own wait further).
   */
  take(key: string): number {
    const now = (this.#o.now ?? Date.now)();
    const { burst, everyMs } = this.#o;
    const b = this.#buckets.get(key);
    const tokens = b ? Math.min(burst, b.tokens + (now - b.at) / everyMs) : burst;
    this.#buckets.delete(key);
    if (tokens < 1) {
      this.#buckets.set(key, { tokens, at: now });
      return Math.ceil((1 - tokens) * everyMs);
    }
    this.#buckets.set(key, { tokens: tokens - 1, at: now });
    if (this.#buckets.size > (this.#o.maxKeys ?? 10_000)) {
      this.#buckets.delete(this.#buckets.keys().next().value!);
    }
    return 0;
  }
}
