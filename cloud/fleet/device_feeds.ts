/**
 * What a device sends, as the pages show it, read from NATS: its telemetry of the last hour (its
 * region's TELEMETRY stream) and as it arrives, its cameras' latest snapshots (the snapshots
 * object store), and its pipeline events, the latest of each type (its region's EVENTS stream)
 * and as they arrive. A live feed takes a callback and returns its unsubscription, what the
 * dashboard's live streams hold until their client goes away.
 *
 * @example
 * ```ts
 * import { DeviceFeeds } from "./device_feeds.ts";
 *
 * declare const nc: import("@nats-io/nats-core").NatsConnection;
 * const feeds = new DeviceFeeds(nc, "eu-west");
 * console.log((await feeds.telemetryHistory("m001-a")).length);
 * const stop = feeds.onTelemetry("m001-a", (t) => console.log(t.cpu.usage));
 * stop();
 * ```
 *
 * @module
 */
import { DeliverPolicy, jetstream, type OrderedConsumerOptions } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import {
  buckets,
  filters,
  parsePipelineEvent,
  type ParseResult,
  parseTelemetry,
  type PipelineEvent,
  streamName,
  subjects,
  type Telemetry,
} from "../../protocol/mod.ts";
import { isStreamNotFound, openObjectStore } from "../nats/mod.ts";
import type { Logger } from "../../runtime/mod.ts";

/** How far back {@link DeviceFeeds.telemetryHistory} reads, ms. */
export const TELEMETRY_HISTORY_MS = 3_600_000;
/** At most this many reports {@link DeviceFeeds.telemetryHistory} returns. */
export const TELEMETRY_HISTORY_MAX = 500;

/** Where a device's messages are read. */
export interface DeviceFeedOptions {
  /** The device's region. Default: the region the feeds were made for. */
  readonly region?: string;
}

/** Options of {@link DeviceFeeds}. */
export interface DeviceFeedsOptions {
  /** Where a live feed the server ends (a permissions violation) is said. */
  readonly logger?: Logger;
}

/** A device's telemetry, snapshots and pipeline events, read and followed. */
export class DeviceFeeds {
  readonly #nc: NatsConnection;
  readonly #region: string;
  readonly #logger: Logger | undefined;

  /** Feeds over `nc`, in `region` (the instance's) unless a call names another. */
  constructor(nc: NatsConnection, region: string, options: DeviceFeedsOptions = {}) {
    this.#nc = nc;
    this.#region = region;
    this.#logger = options.logger;
  }

  /**
   * The device's telemetry reports of the last hour, oldest first (at most
   * {@link TELEMETRY_HISTORY_MAX}; malformed ones left out); none when its region has no
   * TELEMETRY stream (yet). A read that fails rejects.
   */
  async telemetryHistory(deviceId: string, options: DeviceFeedOptions = {}): Promise<Telemetry[]> {
    const region = options.region ?? this.#region;
    return await this.#read(streamName("TELEMETRY", region), {
      filter_subjects: subjects.telemetry({ region, deviceId }),
      deliver_policy: DeliverPolicy.StartTime,
      opt_start_time: new Date(Date.now() - TELEMETRY_HISTORY_MS).toISOString(),
    }, { parse: parseTelemetry, max: TELEMETRY_HISTORY_MAX });
  }

  /**
   * Calls `onReport` with each telemetry report the device sends from now on (malformed ones
   * left out); returns the unsubscription.
   */
  onTelemetry(
    deviceId: string,
    onReport: (report: Telemetry) => void,
    options: DeviceFeedOptions = {},
  ): () => void {
    const region = options.region ?? this.#region;
    return this.#follow(filters.telemetry({ region, deviceId }), parseTelemetry, onReport);
  }

  /**
   * The latest snapshot (JPEG) of the device's camera, taken with the snapshot command; null
   * when there is none. A store that cannot be read rejects.
   */
  async latestSnapshot(deviceId: string, cameraId: string): Promise<Uint8Array | null> {
    const store = await openObjectStore(this.#nc, buckets.snapshots);
    return await store.getBlob(`${deviceId}/${cameraId}/latest.jpg`);
  }

  /**
   * The device's latest pipeline event of each type, from its region's EVENTS stream (malformed
   * ones left out); none when the region has no EVENTS stream (yet). A read that fails rejects.
   */
  async latestEvents(deviceId: string, options: DeviceFeedOptions = {}): Promise<PipelineEvent[]> {
    const region = options.region ?? this.#region;
    return await this.#read(streamName("EVENTS", region), {
      filter_subjects: filters.pipelineEvents({ region, deviceId }),
      deliver_policy: DeliverPolicy.LastPerSubject,
    }, { parse: parsePipelineEvent, max: 50 });
  }

  /**
   * Calls `onEvent` with each pipeline event sent in the region from now on (of `deviceId` only,
   * when given; malformed ones left out); returns the unsubscription.
   */
  onPipelineEvents(
    onEvent: (event: PipelineEvent) => void,
    options: DeviceFeedOptions & { readonly deviceId?: string } = {},
  ): () => void {
    const region = options.region ?? this.#region;
    const filter = filters.pipelineEvents(
      options.deviceId ? { region, deviceId: options.deviceId } : { region },
    );
    return this.#follow(filter, parsePipelineEvent, onEvent);
  }

  /**
   * What an ordered consumer of `stream` with `config` holds, up to `max` messages, as `parse`
   * reads them (malformed ones left out); none when the stream does not exist (yet). A read that
   * fails rejects.
   */
  async #read<T>(
    stream: string,
    config: Partial<OrderedConsumerOptions>,
    { parse, max }: { parse: (data: Uint8Array) => ParseResult<T>; max: number },
  ): Promise<T[]> {
    const out: T[] = [];
    try {
      const consumer = await jetstream(this.#nc).consumers.get(stream, config);
      if ((await consumer.info()).num_pending === 0) return out;
      for await (const m of await consumer.fetch({ max_messages: max, expires: 1000 })) {
        const r = parse(m.data);
        if (r.ok) out.push(r.value);
        if (m.info.pending === 0) break;
      }
    } catch (e) {
      // The region has no such stream (yet): nothing to read. A read that fails propagates.
      if (!isStreamNotFound(e)) throw e;
    }
    return out;
  }

  /** Subscribes to `filter`, hands each message `parse` reads to `deliver`; the unsubscription. */
  #follow<T>(
    filter: string,
    parse: (data: Uint8Array) => ParseResult<T>,
    deliver: (value: T) => void,
  ): () => void {
    const sub = this.#nc.subscribe(filter, {
      callback: (err, m) => {
        if (err) {
          // The server ended the subscription: the feed stops (nothing more is delivered), said.
          this.#logger?.log("warn", "a device feed ended", { filter, error: String(err) });
          return;
        }
        const r = parse(m.data);
        if (r.ok) deliver(r.value);
      },
    });
    return () => sub.unsubscribe();
  }
}
