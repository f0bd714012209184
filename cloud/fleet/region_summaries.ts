/**
 * A fleet-wide view across regions. Each region's device statuses stay in the region; every few
 * seconds each cloud instance writes its region's summary (devices heard, online, and from which
 * home regions) to the global `region_summaries` bucket, which every other region reads from its
 * mirror. An operator asking any region sees every region: its own live, the others as their
 * last summary says, marked stale when that is old (a region down, or the primary region, which
 * takes the writes, down).
 *
 * @example
 * ```ts
 * import { RegionSummaries } from "./region_summaries.ts";
 * declare const nc: import("@nats-io/nats-core").NatsConnection;
 * declare const state: import("./fleet_state.ts").FleetState;
 *
 * await using summaries = await RegionSummaries.open(nc, {
 *   region: "us-east",
 *   statuses: () => [...state.statuses.entries()].map(([, e]) => e.value),
 *   homeOf: (deviceId) => state.devices.get(deviceId)?.value.region,
 * });
 * console.log(summaries.list()); // [{ region: "eu-west", devices, online, stale... }, ...]
 * ```
 *
 * @module
 */
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { buckets } from "../../protocol/mod.ts";
import { putJson } from "./fleet_state.ts";
import { KvReplica, openKv } from "../nats/mod.ts";
import type { Logger } from "../../runtime/mod.ts";

/** Devices and how many are online. */
export interface DeviceCounts {
  /** Devices heard. */
  readonly devices: number;
  /** Of them, online. */
  readonly online: number;
}

/** One region's devices as its cloud sees them. */
export interface RegionSummary extends DeviceCounts {
  /** The region serving them (the one their heartbeats reach). */
  readonly region: string;
  /** The same counts by the devices' home region (a device failed over counts under its own). */
  readonly homes: Readonly<Record<string, DeviceCounts>>;
  /** When it was counted, Unix ms. */
  readonly at: number;
}

/** A summary as {@link RegionSummaries.list} gives it. */
export interface RegionView extends RegionSummary {
  /** Counted now by this instance (its own region), or read from the region's last summary. */
  readonly source: "live" | "summary";
  /** The summary is older than three write periods. */
  readonly stale: boolean;
}

/** What a summary counts of a device's status. */
export interface CountedStatus {
  readonly deviceId: string;
  readonly status: "online" | "offline";
}

/** Options of {@link RegionSummaries.open}. */
export interface RegionSummariesOptions {
  /** This instance's region. */
  readonly region: string;
  /** The statuses of the devices the region serves now. */
  readonly statuses: () => Iterable<CountedStatus>;
  /** A device's home region (its registration), if known. */
  readonly homeOf: (deviceId: string) => string | undefined;
  /** How often the summary is written, ms. Default 5,000. */
  readonly everyMs?: number;
  /** Where failed writes are logged. */
  readonly logger?: Logger;
  /** Clock, Unix ms. Default `Date.now`. */
  readonly now?: () => number;
}

/** Counts `statuses` served by `region` (a pure function: what each instance writes). */
export function summarize(
  region: string,
  statuses: Iterable<CountedStatus>,
  options: { homeOf: (deviceId: string) => string | undefined; at: number },
): RegionSummary {
  let devices = 0;
  let online = 0;
  const homes: Record<string, { devices: number; online: number }> = {};
  for (const s of statuses) {
    const home = options.homeOf(s.deviceId) ?? region;
    const h = homes[home] ??= { devices: 0, online: 0 };
    devices++;
    h.devices++;
    if (s.status === "online") {
      online++;
      h.online++;
    }
  }
  return { region, devices, online, homes, at: options.at };
}

function decode(bytes: Uint8Array): RegionSummary | undefined {
  let v: RegionSummary | null;
  try {
    v = JSON.parse(new TextDecoder().decode(bytes)) as RegionSummary | null;
  } catch (e) {
    // Not JSON: not a summary (skipped, like one that does not fit).
    if (!(e instanceof SyntaxError)) throw e;
    return undefined;
  }
  return typeof v?.region === "string" && Number.isInteger(v.devices) &&
      Number.isInteger(v.online) && typeof v.homes === "object" && Number.isFinite(v.at)
    ? v
    : undefined;
}

/** Writes this region's summary every few seconds and reads every region's. */
export class RegionSummaries implements AsyncDisposable {
  readonly #o: RegionSummariesOptions;
  readonly #kv: KV;
  readonly #replica: KvReplica<RegionSummary>;
  readonly #timer: ReturnType<typeof setInterval>;
  #writing: Promise<void> | undefined;
  #failing = false;

  private constructor(options: RegionSummariesOptions, kv: KV, replica: KvReplica<RegionSummary>) {
    this.#o = options;
    this.#kv = kv;
    this.#replica = replica;
    // #write never rejects: a failed write is logged there.
    this.#timer = setInterval(() => void this.#write(), options.everyMs ?? 5000);
  }

  /** Opens the bucket, writes this region's first summary and starts writing it periodically. */
  static async open(
    nc: NatsConnection,
    options: RegionSummariesOptions,
  ): Promise<RegionSummaries> {
    const every = options.everyMs ?? 5000;
    if (!Number.isFinite(every) || every < 100) {
      throw new RangeError(`Invalid summary period ${every} ms (expected at least 100)`);
    }
    const kv = await openKv(nc, buckets.regionSummaries, { history: 1 });
    const replica = await KvReplica.open(kv, {
      decode,
      ...(options.logger ? { logger: options.logger } : {}),
    });
    const summaries = new RegionSummaries(options, kv, replica);
    await summaries.#write();
    return summaries;
  }

  /** Writes the summary (one write at a time: a slow one is not overlapped). */
  #write(): Promise<void> {
    this.#writing ??= (async () => {
      try {
        await putJson(this.#kv, this.#o.region, this.#live());
        if (this.#failing) this.#o.logger?.log("info", "region summary written again");
        this.#failing = false;
      } catch (e) {
        // The primary region (which takes global writes) may be down: the others see it stale.
        if (!this.#failing) {
          this.#o.logger?.log("warn", "cannot write the region's summary", {
            error: (e as Error).message,
          });
        }
        this.#failing = true;
      }
    })().finally(() => this.#writing = undefined);
    return this.#writing;
  }

  #live(): RegionSummary {
    return summarize(this.#o.region, this.#o.statuses(), {
      homeOf: this.#o.homeOf,
      at: (this.#o.now ?? Date.now)(),
    });
  }

  /** Every region: this one counted now, the others from their last summary, by region id. */
  list(): RegionView[] {
    const now = (this.#o.now ?? Date.now)();
    const staleAfter = 3 * (this.#o.everyMs ?? 5000);
    const out: RegionView[] = [{ ...this.#live(), source: "live", stale: false }];
    for (const [region, e] of this.#replica.entries()) {
      if (region === this.#o.region) continue;
      out.push({ ...e.value, source: "summary", stale: now - e.value.at > staleAfter });
    }
    return out.sort((a, b) => a.region.localeCompare(b.region));
  }

  /** Stops writing and reading. */
  async [Symbol.asyncDispose](): Promise<void> {
    // A write in flight is not waited for: a summary is rewritten every period anyway, and one
    // to a primary region that is gone would hold the stop up until it timed out.
    clearInterval(this.#timer);
    await this.#replica[Symbol.asyncDispose]();
  }
}
