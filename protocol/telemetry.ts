/**
 * Device telemetry: resource use, pipeline metrics and versions, published at a configurable
 * interval and kept for an hour in the TELEMETRY stream for charts.
 *
 * @module
 */
import { z } from "zod";
import * as f from "./_fields.ts";
import { defineFamily } from "./message_family.ts";

/** Metrics of one camera. */
export const CameraMetricsSchema = z.strictObject({
  cameraId: f.cameraId,
  fps: f.nonNegative,
  drops: f.count,
  errors: f.count,
});

/** Metrics of one pipeline stage. */
export const StageMetricsSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, "must be 1-32 of a-z, 0-9, '_' and '-'"),
  fps: f.nonNegative,
  p50Ms: f.nonNegative,
  p99Ms: f.nonNegative,
  queueDepth: f.count,
  drops: f.count,
});

/** Schema of a telemetry report. */
export const TelemetrySchema = z.strictObject({
  ...f.deviceEnvelope,
  cpu: z.strictObject({
    usage: f.ratio.describe("Share of all cores in use, 0..1"),
    load1: f.nonNegative.describe("1-minute load average"),
  }),
  memory: z.strictObject({ rssBytes: f.bytes, usedBytes: f.bytes, totalBytes: f.bytes }),
  disk: z.strictObject({ usedBytes: f.bytes, totalBytes: f.bytes }),
  temperatureC: z.number().min(-60).max(200).nullable().describe(
    "SoC temperature in °C; null where the board has no sensor",
  ),
  door: f.door,
  cameras: z.array(CameraMetricsSchema).max(8),
  stages: z.array(StageMetricsSchema).max(32),
  outbox: z.strictObject({
    depth: f.count.describe("Events waiting to be acknowledged"),
    bytes: f.bytes,
    capacityBytes: f.bytes,
  }).describe("The store-and-forward outbox"),
  clips: z.strictObject({
    pending: f.count.describe("Finished clips not yet uploaded"),
    bytes: f.bytes,
    quotaBytes: f.bytes,
    refused: f.count.describe("Clips refused since start because the spool or disk was full"),
    uploaded: f.count.describe("Clips uploaded since start"),
  }).optional().describe("The clip spool; absent on a device that does not record"),
  appVersion: f.version,
  modelVersion: f.version.nullable(),
});

/** A telemetry report. */
export type Telemetry = z.infer<typeof TelemetrySchema>;

/** The telemetry family. */
export const telemetry = defineFamily<Telemetry>("telemetry", TelemetrySchema);

/** Parses a telemetry report; never throws. */
export const parseTelemetry = telemetry.parse;
