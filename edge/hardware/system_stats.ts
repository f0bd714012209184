/**
 * Resource readings for telemetry: CPU use (from /proc/stat), load, memory, disk and the SoC
 * temperature from /sys where present.
 *
 * @module
 */
import fs from "node:fs";

/** One reading. */
export interface SystemStats {
  /** Share of all cores busy since the previous reading, 0..1. */
  readonly cpuUsage: number;
  /** 1-minute load average. */
  readonly load1: number;
  /** This process's resident memory. */
  readonly rssBytes: number;
  /** Memory in use on the machine. */
  readonly memUsedBytes: number;
  /** Memory on the machine. */
  readonly memTotalBytes: number;
  /** Disk space used on the data folder's file system. */
  readonly diskUsedBytes: number;
  /** Size of that file system. */
  readonly diskTotalBytes: number;
  /** SoC temperature in °C, or null without a sensor. */
  readonly temperatureC: number | null;
}

/** Options of {@link SystemStatsReader}. */
export interface SystemStatsOptions {
  /** Log sink: a reading that fails unexpectedly is said here (once per reading). */
  readonly log?: (
    level: "info" | "warn" | "error",
    msg: string,
    f?: Record<string, unknown>,
  ) => void;
}

/** Reads system statistics; keeps the previous CPU counters to compute usage. */
export class SystemStatsReader {
  #prev: { busy: number; total: number } | undefined;
  readonly #dataDir: string;
  readonly #log: SystemStatsOptions["log"];
  /** Readings whose failure was logged (telemetry reads every few seconds: said once). */
  readonly #said = new Set<string>();

  /** Creates a reader for the file system holding `dataDir`. */
  constructor(dataDir: string, options: SystemStatsOptions = {}) {
    this.#dataDir = dataDir;
    this.#log = options.log;
  }

  /**
   * A reading that failed: missing on this machine (NotFound: no /proc, no sensor) is expected
   * and reads as its default; anything else is logged once, and reads as its default too.
   */
  #unavailable(what: string, e: unknown): void {
    const missing = e instanceof Deno.errors.NotFound ||
      (e as { code?: unknown })?.code === "ENOENT";
    if (missing || this.#said.has(what)) return;
    this.#said.add(what);
    this.#log?.("warn", `cannot read the ${what}`, { error: String(e) });
  }

  #cpu(): number {
    try {
      const line = Deno.readTextFileSync("/proc/stat").split("\n")[0]!;
      const v = line.trim().split(/\s+/).slice(1).map(Number);
      const idle = (v[3] ?? 0) + (v[4] ?? 0);
      const total = v.reduce((a, b) => a + b, 0);
      const busy = total - idle;
      const prev = this.#prev;
      this.#prev = { busy, total };
      if (!prev || total === prev.total) return 0;
      return Math.min(1, Math.max(0, (busy - prev.busy) / (total - prev.total)));
    } catch (e) {
      this.#unavailable("CPU use", e);
      return 0;
    }
  }

  /** Takes a reading. */
  read(): SystemStats {
    const mem = Deno.systemMemoryInfo();
    let diskUsed = 0;
    let diskTotal = 0;
    try {
      const st = fs.statfsSync(this.#dataDir);
      diskTotal = st.blocks * st.bsize;
      diskUsed = (st.blocks - st.bfree) * st.bsize;
    } catch (e) {
      this.#unavailable("disk use", e);
    }
    let temperatureC: number | null = null;
    try {
      const milli = Number(Deno.readTextFileSync("/sys/class/thermal/thermal_zone0/temp").trim());
      if (Number.isFinite(milli)) temperatureC = Math.round(milli / 100) / 10;
    } catch (e) {
      this.#unavailable("temperature", e);
    }
    return {
      cpuUsage: this.#cpu(),
      load1: Deno.loadavg()[0] ?? 0,
      rssBytes: Deno.memoryUsage().rss,
      memUsedBytes: mem.total - mem.available,
      memTotalBytes: mem.total,
      diskUsedBytes: diskUsed,
      diskTotalBytes: diskTotal,
      temperatureC,
    };
  }
}
