// Describes the machine a benchmark ran on. Private to bench/.
import os from "node:os";

/** CPU model, cores, memory, OS and Deno version, for the record in docs/benchmarks.md. */
export function machine(): Record<string, string | number> {
  return {
    cpu: os.cpus()[0]?.model ?? "unknown",
    cores: os.cpus().length,
    mem_gib: Math.round(os.totalmem() / 2 ** 30),
    os: `${Deno.build.os}-${Deno.build.arch}`,
    deno: Deno.version.deno,
  };
}

/** Peak resident set size of this process so far, in MB (VmHWM). */
export function peakRssMb(): number {
  const status = Deno.readTextFileSync("/proc/self/status");
  const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? "0");
  return Math.round(kb / 1024);
}

/** Percentile `p` (0-100) of `values`. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}
