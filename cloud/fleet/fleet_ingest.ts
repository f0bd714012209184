/**
 * Fleet ingest: consumes heartbeats and telemetry (queue groups, so instances share the work),
 * keeps each device's status current in the `status` bucket, marks devices offline after a
 * configurable silence, and raises and clears alerts (offline, temperature, pipeline drops,
 * outbox filling) as events on `vs.<r>.alert.<kind>` and entries in the `alerts` bucket.
 *
 * Heartbeats are far more frequent than JetStream can store them on a small server, so the
 * status is written when it changes and otherwise at most every half of the offline timeout.
 *
 * @module
 */
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection, Subscription } from "@nats-io/nats-core";
import {
  type Alert,
  alert,
  deviceSubjectParts,
  filters,
  type Heartbeat,
  newEnvelope,
  parseHeartbeat,
  parseTelemetry,
  subjects,
  type Telemetry,
} from "../../protocol/mod.ts";
import type { AlertRecord, DeviceStatus } from "./fleet_model.ts";
import {
  type FleetState,
  isRevisionConflict,
  putJson,
  RevisionConflictError,
} from "./fleet_state.ts";
import type { Logger } from "../../runtime/mod.ts";
import { pooled, sleep } from "../../runtime/mod.ts";
import { ImpersonationAudit } from "../provisioning/mod.ts";

/** Options of {@link FleetIngest}. */
export interface FleetIngestOptions {
  /** Region whose devices this instance ingests. */
  readonly region: string;
  /** A device silent this long is offline, ms. Default 60,000. */
  readonly offlineAfterMs?: number;
  /** SoC temperature that raises an alert, °C. Default 80. */
  readonly temperatureLimitC?: number;
  /** Queue group shared by the instances. Default `vs-ingest`. */
  readonly queue?: string;
  /** Clock, Unix ms. Default `Date.now`. */
  readonly now?: () => number;
  /** Logger. */
  readonly logger?: Logger;
}

/** Counters of the ingest, for /metrics. */
export interface IngestCounters {
  heartbeats: number;
  telemetry: number;
  invalid: number;
  /** Reports refused because their body names another device than their subject. */
  impersonated: number;
  statusWrites: number;
  /** Status writes waiting (a gauge). */
  queuedWrites: number;
  offlineMarked: number;
  alertsRaised: number;
  alertsCleared: number;
}

/** Counters at zero. */
export function newIngestCounters(): IngestCounters {
  return {
    heartbeats: 0,
    telemetry: 0,
    invalid: 0,
    impersonated: 0,
    statusWrites: 0,
    queuedWrites: 0,
    offlineMarked: 0,
    alertsRaised: 0,
    alertsCleared: 0,
  };
}

const MAX_INFLIGHT = 256;
/** Devices marked offline at once by a sweep. */
const OFFLINE_CONCURRENCY = 32;

/** A running ingest. */
export class FleetIngest {
  /** Counters since start. */
  readonly counters: IngestCounters = newIngestCounters();
  readonly #nc: NatsConnection;
  readonly #state: FleetState;
  readonly #o: Required<Omit<FleetIngestOptions, "logger">> & { logger?: Logger };
  readonly #written = new Map<string, { at: number; status: DeviceStatus }>();
  readonly #drops = new Map<string, { drops: number; ts: number }>();
  readonly #refused = new Map<string, { refused: number; ts: number }>();
  #subs: Subscription[] = [];
  #sweep: ReturnType<typeof setInterval> | undefined;
  #sweeping = false;
  #inflight = 0;
  readonly #impersonation: ImpersonationAudit;

  /** Starts consuming. */
  constructor(nc: NatsConnection, state: FleetState, options: FleetIngestOptions) {
    this.#nc = nc;
    this.#state = state;
    this.#o = {
      offlineAfterMs: 60_000,
      temperatureLimitC: 80,
      queue: "vs-ingest",
      now: () => Date.now(),
      ...options,
    };
    this.#impersonation = new ImpersonationAudit(nc, {
      region: options.region,
      logger: options.logger,
    });
    const queue = this.#o.queue;
    this.#subs.push(nc.subscribe(filters.heartbeats({ region: options.region }), {
      queue,
      callback: (_e, m) => this.#heartbeat(m.subject, m.data),
    }));
    this.#subs.push(nc.subscribe(filters.telemetry({ region: options.region }), {
      queue,
      callback: (_e, m) =>
        void this.#telemetry(m.subject, m.data).catch((e) =>
          this.#o.logger?.log("warn", "telemetry handling failed", { error: String(e) })
        ),
    }));
    this.#sweep = setInterval(
      () =>
        void this.#sweepOffline().catch((e) =>
          this.#o.logger?.log("warn", "offline sweep failed; again next sweep", {
            error: String(e),
          })
        ),
      Math.max(100, Math.min(5000, this.#o.offlineAfterMs / 6)),
    );
  }

  /** Resolves once the subscriptions are known to the server. */
  ready(): Promise<void> {
    return this.#nc.flush();
  }

  #statusOf(hb: Heartbeat, now: number, previous: DeviceStatus | undefined): DeviceStatus {
    return {
      deviceId: hb.deviceId,
      status: "online",
      since: previous?.status === "online" ? previous.since : now,
      lastSeen: now,
      region: this.#o.region,
      machineId: hb.machineId,
      appVersion: hb.appVersion,
      modelVersion: hb.modelVersion,
      door: hb.door,
    };
  }

  /**
   * Whether a report's body names the device whose subject it came on (its identity: a device
   * may publish only under its own id); when not, it is counted and audited, and dropped.
   */
  #fromItself(subject: string, claimed: string, kind: string): boolean {
    const sender = deviceSubjectParts(subject).deviceId;
    if (sender === claimed) return true;
    this.counters.impersonated++;
    this.#impersonation.refuse({ sender, claimed, kind });
    return false;
  }

  #heartbeat(subject: string, data: Uint8Array): void {
    const parsed = parseHeartbeat(data);
    if (!parsed.ok) {
      this.counters.invalid++;
      return;
    }
    const hb = parsed.value;
    if (!this.#fromItself(subject, hb.deviceId, "heartbeat")) return;
    this.counters.heartbeats++;
    const now = this.#o.now();
    const local = this.#written.get(hb.deviceId);
    const stored = this.#state.statuses.get(hb.deviceId)?.value;
    // Our own latest write, unless the bucket holds something newer (or an offline verdict).
    const known = local && (!stored || (stored.status !== "offline" && local.at >= stored.lastSeen))
      ? local.status
      : stored;
    const changed = !known || known.status !== "online" || known.appVersion !== hb.appVersion ||
      known.modelVersion !== hb.modelVersion || known.door !== hb.door;
    const stale = !known ||
      now - Math.max(known.lastSeen, local?.at ?? 0) >= this.#o.offlineAfterMs / 2;
    if (!changed && !stale) return;
    const status = this.#statusOf(hb, now, known);
    this.#written.set(hb.deviceId, { at: now, status });
    // Changes go first; a refresh waits, and a newer write of the same device replaces an older one.
    (changed ? this.#urgent : this.#refresh).set(hb.deviceId, {
      status,
      wasOffline: known?.status === "offline",
    });
    if (changed) this.#refresh.delete(hb.deviceId);
    this.#pump();
  }

  readonly #urgent = new Map<string, { status: DeviceStatus; wasOffline: boolean }>();
  readonly #refresh = new Map<string, { status: DeviceStatus; wasOffline: boolean }>();

  /** Writes queued statuses with bounded concurrency: the KV store sets the pace, not the heartbeat rate. */
  #pump(): void {
    while (this.#inflight < MAX_INFLIGHT) {
      const queue = this.#urgent.size > 0 ? this.#urgent : this.#refresh;
      const next = queue.entries().next();
      if (next.done) return;
      const [id, job] = next.value;
      queue.delete(id);
      this.#inflight++;
      putJson(this.#state.status, id, job.status).then(() => {
        this.counters.statusWrites++;
        return job.wasOffline ? this.#clear("offline", id) : undefined;
      }).catch((e) =>
        this.#o.logger?.log("warn", "status write failed", { device: id, error: String(e) })
      )
        .finally(() => {
          this.#inflight--;
          this.#pump();
        });
    }
    this.counters.queuedWrites = this.#urgent.size + this.#refresh.size;
  }

  async #telemetry(subject: string, data: Uint8Array): Promise<void> {
    const parsed = parseTelemetry(data);
    if (!parsed.ok) {
      this.counters.invalid++;
      return;
    }
    const t: Telemetry = parsed.value;
    if (!this.#fromItself(subject, t.deviceId, "telemetry")) return;
    this.counters.telemetry++;
    // Drops as a rate between reports (several instances each see only some of a device's
    // reports), computed before any await so that reports handled concurrently stay in order.
    const drops = t.stages.reduce((a, st) => a + st.drops, 0) +
      t.cameras.reduce((a, c) => a + c.drops, 0);
    const before = this.#drops.get(t.deviceId);
    let perMinute: number | undefined;
    if (!before || t.ts > before.ts) {
      this.#drops.set(t.deviceId, { drops, ts: t.ts });
      if (before) perMinute = ((drops - before.drops) * 60_000) / (t.ts - before.ts);
    }
    // Clips refused since the device's previous report; undefined for an older report.
    let refusedSince: number | undefined;
    const lastClips = this.#refused.get(t.deviceId);
    if (t.clips && (!lastClips || t.ts > lastClips.ts)) {
      const delta = t.clips.refused - (lastClips?.refused ?? 0);
      // A smaller count means the device restarted (its counter starts at 0).
      refusedSince = delta >= 0 ? delta : t.clips.refused;
      this.#refused.set(t.deviceId, { refused: t.clips.refused, ts: t.ts });
    }
    const limit = this.#o.temperatureLimitC;
    if (t.temperatureC !== null && t.temperatureC >= limit) {
      await this.#raise(
        t.deviceId,
        "temperature",
        t.temperatureC >= limit + 10 ? "critical" : "warning",
        `SoC at ${t.temperatureC} °C (limit ${limit} °C)`,
        t.temperatureC,
      );
    } else if (t.temperatureC !== null) await this.#clear("temperature", t.deviceId);
    const fill = t.outbox.capacityBytes > 0 ? t.outbox.bytes / t.outbox.capacityBytes : 0;
    if (fill >= 0.8) {
      await this.#raise(
        t.deviceId,
        "outbox_filling",
        fill >= 0.95 ? "critical" : "warning",
        `outbox ${Math.round(fill * 100)}% full (${t.outbox.depth} events)`,
        fill,
      );
    } else await this.#clear("outbox_filling", t.deviceId);
    if (t.clips && refusedSince !== undefined) {
      // A clip refused since the last report (spool or disk full) or a spool nearly full of
      // clips it must keep raises the alert; it clears once there is room again.
      const spoolFill = t.clips.quotaBytes > 0 ? t.clips.bytes / t.clips.quotaBytes : 0;
      if (refusedSince > 0 || spoolFill >= 0.95) {
        await this.#raise(
          t.deviceId,
          "spool_full",
          refusedSince > 0 ? "critical" : "warning",
          refusedSince > 0
            ? `${refusedSince} session clips could not be stored: the spool is full`
            : `clip spool ${
              Math.round(spoolFill * 100)
            }% full (${t.clips.pending} clips to upload)`,
          spoolFill,
        );
      } else if (spoolFill < 0.8 && lastClips) {
        // Cleared only against an earlier report (the first one seen has no baseline).
        await this.#clear("spool_full", t.deviceId);
      }
    }
    if (perMinute !== undefined) {
      if (perMinute > 40) {
        await this.#raise(
          t.deviceId,
          "pipeline_drops",
          "warning",
          `${Math.round(perMinute)} frames dropped per minute`,
          perMinute,
        );
      } else if (perMinute >= 0) await this.#clear("pipeline_drops", t.deviceId);
    }
  }

  async #publishAlert(a: Omit<Alert, "v" | "id" | "ts">): Promise<void> {
    await jetstream(this.#nc).publish(
      subjects.alert(this.#o.region, a.kind),
      alert.encode({ ...newEnvelope(this.#o.now()), ...a }),
    );
  }

  async #raise(
    deviceId: string,
    kind: AlertRecord["kind"],
    severity: AlertRecord["severity"],
    message: string,
    value: number | null,
  ): Promise<void> {
    const key = `${kind}.${deviceId}`;
    if (this.#state.raised.get(key)) return;
    try {
      await putJson(this.#state.alerts, key, {
        deviceId,
        kind,
        severity,
        message,
        value,
        since: this.#o.now(),
      }, 0);
    } catch (e) {
      if (e instanceof RevisionConflictError) return; // another instance raised it
      throw e;
    }
    this.counters.alertsRaised++;
    await this.#publishAlert({ deviceId, kind, state: "raised", severity, message, value });
  }

  async #clear(kind: AlertRecord["kind"], deviceId: string): Promise<void> {
    const key = `${kind}.${deviceId}`;
    const current = this.#state.raised.get(key);
    if (!current) return;
    try {
      await this.#state.alerts.delete(key, { previousSeq: current.revision });
    } catch (e) {
      // Changed or cleared by another instance meanwhile: it reports that, not us.
      if (isRevisionConflict(e)) return;
      throw e;
    }
    this.counters.alertsCleared++;
    await this.#publishAlert({
      deviceId,
      kind,
      state: "cleared",
      severity: current.value.severity,
      message: `${kind} cleared`,
      value: null,
    });
  }

  async #sweepOffline(): Promise<void> {
    // One sweep at a time: a slow one (a region's mass outage) is not overlapped by the next.
    if (this.#sweeping) return;
    this.#sweeping = true;
    try {
      await this.#sweepOnce();
    } finally {
      this.#sweeping = false;
    }
  }

  async #sweepOnce(): Promise<void> {
    const now = this.#o.now();
    // An offline alert whose device is online again (raised and cleared in a race) is cleared here.
    for (const [, entry] of this.#state.raised.entries()) {
      const a = entry.value;
      if (a.kind === "offline" && this.#state.statuses.get(a.deviceId)?.value.status === "online") {
        await this.#clear("offline", a.deviceId).catch((e) =>
          this.#o.logger?.log("warn", "offline alert not cleared; again next sweep", {
            device: a.deviceId,
            error: String(e),
          })
        );
      }
    }
    const silent: Array<[string, { value: DeviceStatus; revision: number }]> = [];
    for (const [id, entry] of this.#state.statuses.entries()) {
      const s = entry.value;
      if (s.status !== "online" || now - s.lastSeen < this.#o.offlineAfterMs) continue;
      const local = this.#written.get(id);
      if (local && now - local.at < this.#o.offlineAfterMs) continue; // a fresh beat is being written
      silent.push([id, entry]);
    }
    // Marked OFFLINE_CONCURRENCY at a time: thousands going silent at once (a region's network)
    // show as offline in seconds, not one round trip after another.
    await pooled(silent, ([id, entry]) => this.#markOffline(id, entry, now), {
      concurrency: OFFLINE_CONCURRENCY,
    });
  }

  async #markOffline(
    id: string,
    entry: { value: DeviceStatus; revision: number },
    now: number,
  ): Promise<void> {
    const s = entry.value;
    try {
      await putJson(
        this.#state.status,
        id,
        { ...s, status: "offline", since: now },
        entry.revision,
      );
    } catch (e) {
      if (e instanceof RevisionConflictError) return; // it changed meanwhile: not silent after all
      this.#o.logger?.log("warn", "offline write failed", { device: id, error: String(e) });
      return;
    }
    this.counters.offlineMarked++;
    this.#written.delete(id);
    await this.#raise(
      id,
      "offline",
      "warning",
      `no heartbeat for ${Math.round((now - s.lastSeen) / 1000)} s`,
      now - s.lastSeen,
    ).catch((e) =>
      // Marked offline all the same (its status says so); only the alert is missing: said.
      this.#o.logger?.log("warn", "offline alert not raised", { device: id, error: String(e) })
    );
  }

  /** Stops consuming. */
  async stop(): Promise<void> {
    clearInterval(this.#sweep);
    for (const s of this.#subs) s.unsubscribe();
    while (this.#inflight > 0) await sleep(5);
  }
}
