/**
 * Prometheus metrics in the text exposition format: counters, gauges and latency histograms.
 *
 * @module
 */

type Labels = Record<string, string>;

const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

function key(labels: Labels): string {
  return Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) =>
    `${k}="${v.replace(/["\\\n]/g, "_")}"`
  ).join(",");
}

/** A set of named metrics. */
export class Metrics {
  readonly #counters = new Map<string, { help: string; values: Map<string, number> }>();
  readonly #gauges = new Map<string, { help: string; read: () => number }>();
  readonly #histograms = new Map<
    string,
    { help: string; series: Map<string, { counts: number[]; sum: number; count: number }> }
  >();

  /** Adds `by` to counter `name` with `labels`. */
  inc(name: string, help: string, labels: Labels = {}, by = 1): void {
    const c = this.#counters.get(name) ?? { help, values: new Map() };
    this.#counters.set(name, c);
    const k = key(labels);
    c.values.set(k, (c.values.get(k) ?? 0) + by);
  }

  /** Registers a gauge read at scrape time. */
  gauge(name: string, help: string, read: () => number): void {
    this.#gauges.set(name, { help, read });
  }

  /** Observes a duration in seconds. */
  observe(name: string, help: string, labels: Labels, seconds: number): void {
    const h = this.#histograms.get(name) ?? { help, series: new Map() };
    this.#histograms.set(name, h);
    const k = key(labels);
    const s = h.series.get(k) ?? { counts: BUCKETS.map(() => 0), sum: 0, count: 0 };
    h.series.set(k, s);
    BUCKETS.forEach((b, i) => seconds <= b && s.counts[i]!++);
    s.sum += seconds;
    s.count++;
  }

  /** The text exposition. */
  render(): string {
    const out: string[] = [];
    const withLabels = (name: string, labels: string, extra = "") => {
      const all = [labels, extra].filter((x) => x !== "").join(",");
      return all ? `${name}{${all}}` : name;
    };
    for (const [name, c] of this.#counters) {
      out.push(`# HELP ${name} ${c.help}`, `# TYPE ${name} counter`);
      for (const [k, v] of c.values) out.push(`${withLabels(name, k)} ${v}`);
    }
    for (const [name, g] of this.#gauges) {
      out.push(`# HELP ${name} ${g.help}`, `# TYPE ${name} gauge`, `${name} ${g.read()}`);
    }
    for (const [name, h] of this.#histograms) {
      out.push(`# HELP ${name} ${h.help}`, `# TYPE ${name} histogram`);
      for (const [k, s] of h.series) {
        BUCKETS.forEach((b, i) =>
          out.push(`${withLabels(`${name}_bucket`, k, `le="${b}"`)} ${s.counts[i]}`)
        );
        out.push(`${withLabels(`${name}_bucket`, k, 'le="+Inf"')} ${s.count}`);
        out.push(
          `${withLabels(`${name}_sum`, k)} ${s.sum}`,
          `${withLabels(`${name}_count`, k)} ${s.count}`,
        );
      }
    }
    return out.join("\n") + "\n";
  }
}
