/**
 * The device's status reports: heartbeats and telemetry, each on its own interval, published
 * only while connected (a stale report is worthless: none are queued offline). It keeps the
 * heartbeats' sequence and when the first one went (for the health of an update on trial).
 *
 * @module
 */
import type { NatsConnection } from "@nats-io/nats-core";
import type { MetricsRegistry } from "../../pipeline/mod.ts";
import { heartbeat, newEnvelope, subjects, telemetry } from "../../protocol/mod.ts";
import type { AgentConfig } from "../config/mod.ts";
import type { Outbox } from "../delivery/mod.ts";
import type { DoorState, SystemStatsReader } from "../hardware/mod.ts";
import type { DeviceRecording } from "../recording/mod.ts";

/** Options of {@link StatusReports}. */
export interface StatusReportsOptions {
  /** The configuration in force (its intervals and versions change). */
  readonly config: Pick<
    AgentConfig,
    | "deviceId"
    | "machineId"
    | "role"
    | "outbox"
    | "appVersion"
    | "modelVersion"
    | "cameras"
    | "heartbeatIntervalMs"
    | "telemetryIntervalMs"
  >;
  /** The connection the reports go on, and the region they go to. */
  readonly connection: {
    readonly nc: NatsConnection | undefined;
    readonly connected: boolean;
    reportAddress(): { region: string; deviceId: string };
  };
  /** The outbox (its fill is reported). */
  readonly outbox: Pick<Outbox, "stats">;
  /** The device's system figures. */
  readonly stats: Pick<SystemStatsReader, "read">;
  /** Metrics of the pipeline's stages. */
  readonly metrics: Pick<MetricsRegistry, "snapshot">;
  /** The door's state now. */
  readonly door: () => DoorState | "unknown";
  /** The cameras frames came from. */
  readonly cameraIds: () => Iterable<string>;
  /** The recording, if the device records. */
  readonly recording: () => Pick<DeviceRecording, "stats"> | undefined;
  /** When the agent started (`performance.now()`). */
  readonly started: number;
}

/** Heartbeats and telemetry of the device. */
export class StatusReports {
  readonly #options: StatusReportsOptions;
  #seq = 0;
  #timers: Array<ReturnType<typeof setInterval>> = [];
  #firstHeartbeatAt: number | undefined;

  /** No report sent yet, no interval running. */
  constructor(options: StatusReportsOptions) {
    this.#options = options;
  }

  /** When the first heartbeat went (ms after the agent started), if one did. */
  get firstHeartbeatAt(): number | undefined {
    return this.#firstHeartbeatAt;
  }

  /** (Re)starts the intervals with the configuration's. */
  resetTimers(): void {
    const { config } = this.#options;
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [
      setInterval(() => this.heartbeat(), config.heartbeatIntervalMs),
      setInterval(() => this.telemetry(), config.telemetryIntervalMs),
    ];
  }

  /** Stops the intervals. */
  stop(): void {
    for (const t of this.#timers) clearInterval(t);
  }

  /** Publishes a heartbeat, if connected. */
  heartbeat(): void {
    const { config, connection, outbox } = this.#options;
    const nc = connection.nc;
    if (!nc || !connection.connected) return; // stale beats are worthless: none are queued offline
    nc.publish(
      subjects.heartbeat(connection.reportAddress()),
      heartbeat.encode({
        ...newEnvelope(),
        deviceId: config.deviceId,
        machineId: config.machineId,
        role: config.role,
        seq: this.#seq++,
        uptimeMs: Math.round(performance.now() - this.#options.started),
        status: outbox.stats().bytes >= config.outbox.maxBytes * config.outbox.alertRatio
          ? "degraded"
          : "ok",
        door: this.#options.door(),
        appVersion: config.appVersion,
        modelVersion: config.modelVersion,
      }),
    );
    this.#firstHeartbeatAt ??= performance.now() - this.#options.started;
  }

  /** Publishes telemetry, if connected. */
  telemetry(): void {
    const { config, connection, outbox } = this.#options;
    const nc = connection.nc;
    if (!nc || !connection.connected) return;
    const s = this.#options.stats.read();
    const stages = this.#options.metrics.snapshot();
    const cameras = [
      ...new Set([...this.#options.cameraIds(), ...config.cameras.map((c) => c.cameraId)]),
    ].sort();
    const recording = this.#options.recording();
    nc.publish(
      subjects.telemetry(connection.reportAddress()),
      telemetry.encode({
        ...newEnvelope(),
        deviceId: config.deviceId,
        cpu: { usage: s.cpuUsage, load1: s.load1 },
        memory: { rssBytes: s.rssBytes, usedBytes: s.memUsedBytes, totalBytes: s.memTotalBytes },
        disk: { usedBytes: s.diskUsedBytes, totalBytes: s.diskTotalBytes },
        temperatureC: s.temperatureC,
        door: this.#options.door(),
        cameras: cameras.slice(0, 8).map((cameraId) => {
          const m = stages.find((x) => x.name === `camera_${cameraId}`);
          return { cameraId, fps: m?.fps ?? 0, drops: m?.drops ?? 0, errors: m?.errors ?? 0 };
        }),
        stages: stages.slice(0, 32).map((m) => ({
          name: m.name.slice(0, 32),
          fps: m.fps,
          p50Ms: m.p50Ms,
          p99Ms: m.p99Ms,
          queueDepth: m.queueDepth,
          drops: m.drops,
        })),
        outbox: {
          depth: outbox.stats().depth,
          bytes: outbox.stats().bytes,
          capacityBytes: outbox.stats().capacityBytes,
        },
        ...(recording ? { clips: recording.stats() } : {}),
        appVersion: config.appVersion,
        modelVersion: config.modelVersion,
      }),
    );
  }
}
