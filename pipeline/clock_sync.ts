/**
 * Clock sync between the machine's devices, NTP style: the secondary sends its time t0, the
 * primary notes t1 on receipt and t2 on reply, the secondary notes t3 on the answer. Then
 *
 * ```
 * offset = ((t1 - t0) + (t2 - t3)) / 2      (primary minus secondary)
 * delay  = (t3 - t0) - (t2 - t1)            (network round trip)
 * ```
 *
 * Samples with the least delay carry the least error, so the model keeps a window of recent
 * samples, filters them by minimum delay, and fits offset against time to track drift. Frames of
 * the secondary are stamped on the primary's clock with {@link ClockModel.toReference}.
 *
 * The transport is an interface ({@link ClockProbe}); edge/ implements it over NATS
 * request/reply.
 *
 * @example
 * ```ts
 * import { ClockModel } from "./clock_sync.ts";
 *
 * const model = new ClockModel();
 * model.add({ t0: 1000, t1: 1052, t2: 1053, t3: 1006 });
 * model.toReference(1010); // about 1060: this device runs 49.5 ms behind the primary
 * ```
 *
 * @module
 */

/** One exchange: t0 and t3 on the local clock, t1 and t2 on the reference clock, ms. */
export interface ClockSample {
  /** Request sent (local). */
  readonly t0: number;
  /** Request received (reference). */
  readonly t1: number;
  /** Reply sent (reference). */
  readonly t2: number;
  /** Reply received (local). */
  readonly t3: number;
}

/** Asks the reference device for its receive and send times of one exchange. */
export interface ClockProbe {
  /** Sends `t0` and resolves with the reference's `t1` and `t2`. */
  exchange(t0: number, options?: { signal?: AbortSignal }): Promise<{ t1: number; t2: number }>;
}

/** The current estimate. */
export interface ClockEstimate {
  /** Reference minus local, ms, at `at`. */
  readonly offsetMs: number;
  /** Round trip of the best sample in the window, ms. */
  readonly minDelayMs: number;
  /** Drift of the local clock against the reference, parts per million. */
  readonly driftPpm: number;
  /** Samples in the window. */
  readonly samples: number;
  /** Local time of the estimate. */
  readonly at: number;
}

interface Point {
  readonly local: number;
  readonly offset: number;
  readonly delay: number;
}

/** Offset and drift estimated from a window of exchanges. */
export class ClockModel {
  readonly #window: number;
  readonly #points: Point[] = [];
  #a = 0; // offset at #t0
  #b = 0; // drift, ms per ms
  #t0 = 0;
  #minDelay = Infinity;

  /** Creates a model keeping the last `window` samples (default 64). */
  constructor(options: { window?: number } = {}) {
    this.#window = options.window ?? 64;
    if (!Number.isInteger(this.#window) || this.#window < 2) {
      throw new RangeError(`Invalid clock window ${this.#window}`);
    }
  }

  /** Adds an exchange; refuses one whose times are impossible. */
  add(sample: ClockSample): void {
    const { t0, t1, t2, t3 } = sample;
    if (![t0, t1, t2, t3].every(Number.isFinite)) {
      throw new RangeError(`Clock sample has a non-finite time: ${JSON.stringify(sample)}`);
    }
    if (t3 < t0 || t2 < t1) {
      throw new RangeError(`Clock sample goes backwards: ${JSON.stringify(sample)}`);
    }
    const delay = t3 - t0 - (t2 - t1);
    const offset = (t1 - t0 + (t2 - t3)) / 2;
    this.#points.push({ local: (t0 + t3) / 2, offset, delay: Math.max(0, delay) });
    if (this.#points.length > this.#window) this.#points.shift();
    this.#fit();
  }

  #fit(): void {
    const pts = this.#points;
    this.#minDelay = Math.min(...pts.map((p) => p.delay));
    const span = pts[pts.length - 1]!.local - pts[0]!.local;
    const buckets = Math.min(8, Math.floor(pts.length / 4));
    if (buckets >= 4 && span >= 20_000) {
      // Drift: fit a line through the least-delayed sample of each stretch of time.
      const best: Point[] = [];
      const size = Math.ceil(pts.length / buckets);
      for (let i = 0; i < pts.length; i += size) {
        best.push(pts.slice(i, i + size).reduce((a, b) => (b.delay < a.delay ? b : a)));
      }
      const n = best.length;
      const mt = best.reduce((s, p) => s + p.local, 0) / n;
      const mo = best.reduce((s, p) => s + p.offset, 0) / n;
      let sxx = 0;
      let sxy = 0;
      for (const p of best) {
        sxx += (p.local - mt) ** 2;
        sxy += (p.local - mt) * (p.offset - mo);
      }
      // Clamp to what real oscillators do (+-500 ppm).
      this.#b = sxx > 0 ? Math.max(-5e-4, Math.min(5e-4, sxy / sxx)) : 0;
      this.#t0 = mt;
      this.#a = mo;
      return;
    }
    // Too few or too close together for drift: the median offset of the three least-delayed samples.
    const keep = [...pts].sort((x, y) => x.delay - y.delay).slice(0, 3).map((p) => p.offset).sort((
      x,
      y,
    ) => x - y);
    this.#a = keep[Math.floor((keep.length - 1) / 2)]!;
    this.#b = 0;
    this.#t0 = pts[pts.length - 1]!.local;
  }

  /** True once at least one sample is in. */
  get ready(): boolean {
    return this.#points.length > 0;
  }

  /** Reference minus local at local time `local`, ms. */
  offsetAt(local: number): number {
    return this.#a + this.#b * (local - this.#t0);
  }

  /** A local timestamp on the reference clock. */
  toReference(local: number): number {
    return local + this.offsetAt(local);
  }

  /** The estimate at local time `at`. */
  estimate(at: number): ClockEstimate {
    return {
      offsetMs: this.offsetAt(at),
      minDelayMs: this.#minDelay,
      driftPpm: this.#b * 1e6,
      samples: this.#points.length,
      at,
    };
  }
}

/** Options of {@link runClockSync}. */
export interface ClockSyncOptions {
  /** Local clock, ms. Default `Date.now`. */
  readonly now?: () => number;
  /** Time between exchanges, ms. Default 1000. */
  readonly intervalMs?: number;
  /** Exchanges in the first burst, to be ready fast. Default 8. */
  readonly burst?: number;
  /** Gives up on one exchange after this long, ms. Default 1000. */
  readonly timeoutMs?: number;
  /** Model to update. Default: a new one. */
  readonly model?: ClockModel;
  /** Called when an exchange fails (it is skipped). */
  readonly onError?: (error: Error) => void;
  /** Stops syncing. */
  readonly signal?: AbortSignal;
}

/**
 * Keeps a clock model up to date by exchanging with `probe`: a burst at the start, then one
 * exchange per interval, until the signal aborts. Resolves with the model after the burst.
 */
export async function runClockSync(
  probe: ClockProbe,
  options: ClockSyncOptions = {},
): Promise<ClockModel> {
  const now = options.now ?? (() => Date.now());
  const model = options.model ?? new ClockModel();
  const once = async () => {
    const signal = options.signal
      ? AbortSignal.any([options.signal, AbortSignal.timeout(options.timeoutMs ?? 1000)])
      : AbortSignal.timeout(options.timeoutMs ?? 1000);
    const t0 = now();
    try {
      const { t1, t2 } = await probe.exchange(t0, { signal });
      model.add({ t0, t1, t2, t3: now() });
    } catch (e) {
      if (!options.signal?.aborted) options.onError?.(e as Error);
    }
  };
  for (let i = 0; i < (options.burst ?? 8) && !options.signal?.aborted; i++) await once();
  const timer = setInterval(() => void once(), options.intervalMs ?? 1000);
  options.signal?.addEventListener("abort", () => clearInterval(timer), { once: true });
  if (!options.signal) clearInterval(timer); // without a way to stop, do not run forever
  return model;
}
