/**
 * Per-stage metrics readable at run time: frames/s, p50/p99 latency, queue depth, drops and
 * errors. The snapshot has the shape of the telemetry message's `stages[]` entries.
 *
 * @module
 */

/** A stage's figures at one moment. */
export interface StageSnapshot {
  /** Stage name. */
  readonly name: string;
  /** Items out per second over the recent window. */
  readonly fps: number;
  /** Median latency through the stage, ms. */
  readonly p50Ms: number;
  /** 99th percentile latency, ms. */
  readonly p99Ms: number;
  /** Items waiting in the stage's queue now. */
  readonly queueDepth: number;
  /** Items dropped so far (overflow, late, unmatched). */
  readonly drops: number;
  /** Items refused as bad input so far. */
  readonly errors: number;
  /** Items in so far. */
  readonly inCount: number;
  /** Items out so far. */
  readonly outCount: number;
}

const RING = 2048;

/** Counters and samples of one stage. */
export class StageMetrics {
  /** Stage name. */
  readonly name: string;
  #now: () => number;
  #windowMs: number;
  #outTimes = new Float64Array(RING);
  #outHead = 0;
  #latencies = new Float64Array(RING);
  #latHead = 0;
  #latCount = 0;
  #drops = 0;
  #errors = 0;
  #in = 0;
  #out = 0;
  #depth = 0;

  /** Creates metrics named `name`; `now` is a millisecond clock (default `performance.now`). */
  constructor(name: string, options: { now?: () => number; windowMs?: number } = {}) {
    this.name = name;
    this.#now = options.now ?? (() => performance.now());
    this.#windowMs = options.windowMs ?? 5000;
  }

  /** Counts an item in. */
  recordIn(): void {
    this.#in++;
  }

  /** Counts an item out after `latencyMs` in the stage. */
  recordOut(latencyMs: number): void {
    this.#out++;
    this.#outTimes[this.#outHead] = this.#now();
    this.#outHead = (this.#outHead + 1) % RING;
    this.#latencies[this.#latHead] = latencyMs;
    this.#latHead = (this.#latHead + 1) % RING;
    this.#latCount = Math.min(this.#latCount + 1, RING);
  }

  /** Counts dropped items. */
  recordDrop(count = 1): void {
    this.#drops += count;
  }

  /** Counts a refused item. */
  recordError(): void {
    this.#errors++;
  }

  /** Sets the current queue depth. */
  setQueueDepth(depth: number): void {
    this.#depth = depth;
  }

  /** The figures now. */
  snapshot(): StageSnapshot {
    const now = this.#now();
    let recent = 0;
    let oldest = now;
    for (let i = 0; i < Math.min(this.#out, RING); i++) {
      const t = this.#outTimes[i]!;
      if (now - t <= this.#windowMs) {
        recent++;
        oldest = Math.min(oldest, t);
      }
    }
    const span = Math.max(now - oldest, 1);
    const lat = Array.from(this.#latencies.subarray(0, this.#latCount)).sort((a, b) => a - b);
    const pct = (
      p: number,
    ) => (lat.length === 0 ? 0 : lat[Math.min(lat.length - 1, Math.ceil(p * lat.length) - 1)]!);
    return {
      name: this.name,
      fps: recent < 2 ? 0 : ((recent - 1) * 1000) / span,
      p50Ms: pct(0.5),
      p99Ms: pct(0.99),
      queueDepth: this.#depth,
      drops: this.#drops,
      errors: this.#errors,
      inCount: this.#in,
      outCount: this.#out,
    };
  }
}

/** The metrics of every stage of a pipeline, by name. */
export class MetricsRegistry {
  #stages = new Map<string, StageMetrics>();
  #now: (() => number) | undefined;

  /** Creates a registry; `now` is passed to every stage's metrics. */
  constructor(options: { now?: () => number } = {}) {
    this.#now = options.now;
  }

  /** The metrics of stage `name`, created on first use. */
  stage(name: string): StageMetrics {
    let m = this.#stages.get(name);
    if (!m) {
      m = new StageMetrics(name, this.#now ? { now: this.#now } : {});
      this.#stages.set(name, m);
    }
    return m;
  }

  /** Every stage's figures now. */
  snapshot(): StageSnapshot[] {
    return [...this.#stages.values()].map((m) => m.snapshot());
  }
}
