/**
 * Device heartbeat: a small, frequent liveness beat, carried on core NATS (not persisted).
 *
 * @module
 */
import { z } from "zod";
import * as f from "./_fields.ts";
import { defineFamily } from "./message_family.ts";

/** Schema of a heartbeat. */
export const HeartbeatSchema = z.strictObject({
  ...f.deviceEnvelope,
  machineId: f.machineId,
  role: z.enum(["primary", "secondary"]).describe("The device's role in its machine"),
  seq: f.count.describe("Heartbeat counter since the agent started"),
  uptimeMs: f.count.describe("Milliseconds since the agent started"),
  status: z.enum(["ok", "degraded", "error"]).describe("Overall health as the device sees it"),
  door: f.door,
  appVersion: f.version,
  modelVersion: f.version.nullable().describe(
    "Recognition model in use; null before one is installed",
  ),
});

/** A device heartbeat. */
export type Heartbeat = z.infer<typeof HeartbeatSchema>;

/** The heartbeat family. */
export const heartbeat = defineFamily<Heartbeat>("heartbeat", HeartbeatSchema);

/** Parses a heartbeat; never throws. */
export const parseHeartbeat = heartbeat.parse;
