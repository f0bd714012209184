/**
 * The fleet's records as the cloud stores them in KV and serves them over the API, with their
 * zod schemas (which also generate the OpenAPI document).
 *
 * @module
 */
import { z } from "@hono/zod-openapi";
import { ALERT_KINDS } from "../../protocol/mod.ts";

const token = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "must be 1-63 of a-z, 0-9 and '-'");
const tag = z.string().regex(
  /^[a-z0-9][a-z0-9_.:-]{0,63}$/,
  "must be 1-64 of a-z, 0-9, '_', '.', ':' and '-'",
);

/** A device id in a path. */
export const DeviceIdSchema = token.openapi({ example: "m001-a" });

/** What an operator registers about a device. */
export const DeviceInputSchema = z.strictObject({
  machineId: token.openapi({ example: "m001" }),
  role: z.enum(["primary", "secondary"]),
  region: token.openapi({ example: "local" }),
  tags: z.array(tag).max(32).default([]),
  groups: z.array(token).max(32).default([]),
  name: z.string().min(1).max(100).optional(),
}).openapi("DeviceInput");

/** A registered device. */
export const DeviceRecordSchema = DeviceInputSchema.extend({
  id: token,
  createdAt: z.int(),
  updatedAt: z.int(),
}).openapi("DeviceRecord");

/** A device's current status as the ingest keeps it. */
export const DeviceStatusSchema = z.strictObject({
  deviceId: token,
  status: z.enum(["online", "offline"]),
  since: z.int().describe("When the status last changed, Unix ms"),
  lastSeen: z.int().describe(
    "Last heartbeat the cloud recorded (coarse: refreshed at most every half of the offline timeout)",
  ),
  region: token,
  machineId: token,
  appVersion: z.string(),
  modelVersion: z.string().nullable(),
  door: z.enum(["open", "closed", "unknown"]),
}).openapi("DeviceStatus");

/** A device as the API lists it: its registration (if any) and status (if any). */
export const DeviceViewSchema = z.object({
  id: token,
  registered: z.boolean(),
  record: DeviceRecordSchema.nullable(),
  status: DeviceStatusSchema.nullable(),
}).openapi("Device");

/** A group: static members, or a dynamic tag query. */
export const GroupInputSchema = z.strictObject({
  description: z.string().max(500).default(""),
  /** Devices that match every tag are members. */
  tagQuery: z.array(tag).max(16).default([]),
}).openapi("GroupInput");

/** A stored group. */
export const GroupRecordSchema = GroupInputSchema.extend({
  id: token,
  createdAt: z.int(),
  updatedAt: z.int(),
}).openapi("Group");

/** A command sent through the API, and what became of it. */
export const CommandRecordSchema = z.strictObject({
  id: z.string(),
  deviceId: token,
  command: z.string(),
  args: z.record(z.string(), z.unknown()),
  issuer: z.string(),
  createdAt: z.int(),
  expiresAt: z.int(),
  status: z.enum(["sent", "succeeded", "failed", "expired", "no_reply"]),
  result: z.record(z.string(), z.unknown()).nullable(),
  error: z.strictObject({ code: z.string(), message: z.string() }).nullable(),
  updatedAt: z.int(),
}).openapi("Command");

/** An alert currently raised. */
export const AlertRecordSchema = z.strictObject({
  deviceId: token,
  kind: z.enum(ALERT_KINDS),
  severity: z.enum(["warning", "critical"]),
  message: z.string(),
  value: z.number().nullable(),
  since: z.int(),
}).openapi("Alert");

/** A device registration. */
export type DeviceRecord = z.infer<typeof DeviceRecordSchema>;
/** A device's status. */
export type DeviceStatus = z.infer<typeof DeviceStatusSchema>;
/** A device as listed. */
export type DeviceView = z.infer<typeof DeviceViewSchema>;
/** A group. */
export type GroupRecord = z.infer<typeof GroupRecordSchema>;
/** A command and its outcome. */
export type CommandRecord = z.infer<typeof CommandRecordSchema>;
/** A raised alert. */
export type AlertRecord = z.infer<typeof AlertRecordSchema>;

/**
 * Decodes a device status the ingest wrote. Statuses change tens of thousands of times a second
 * in a large fleet, so this checks the fields the API relies on instead of running the schema.
 */
export function decodeStatus(bytes: Uint8Array): DeviceStatus | undefined {
  try {
    const v = JSON.parse(statusDecoder.decode(bytes));
    const ok = typeof v?.deviceId === "string" &&
      (v.status === "online" || v.status === "offline") &&
      Number.isInteger(v.lastSeen) && Number.isInteger(v.since) && typeof v.region === "string" &&
      typeof v.machineId === "string" && typeof v.appVersion === "string";
    return ok ? v as DeviceStatus : undefined;
  } catch (e) {
    // Not JSON: not a status the ingest wrote (skipped).
    if (!(e instanceof SyntaxError)) throw e;
    return undefined;
  }
}

const statusDecoder = new TextDecoder();

/** Decodes a stored JSON record with `schema`, or undefined when it does not fit. */
export function decodeWith<T>(schema: z.ZodType<T>): (bytes: Uint8Array) => T | undefined {
  const decoder = new TextDecoder();
  return (bytes) => {
    try {
      const r = schema.safeParse(JSON.parse(decoder.decode(bytes)));
      return r.success ? r.data : undefined;
    } catch (e) {
      // Not JSON: it does not fit either.
      if (!(e instanceof SyntaxError)) throw e;
      return undefined;
    }
  };
}
