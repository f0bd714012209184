// Field schemas shared by every message family. Private to protocol/.
import { z } from "zod";

/** Current schema version of every message family. */
export const SCHEMA_VERSION = 1 as const;

const TOKEN = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** Device ids, machine ids and region ids are lowercase DNS-label-like tokens, safe in subjects and KV keys. */
export const deviceId = z.string().regex(
  TOKEN,
  "must be 1-63 of a-z, 0-9 and '-', starting with a letter or digit",
);
export const machineId = deviceId.describe(
  "Machine (cabinet) id; a machine is one primary and one secondary device",
);
export const cameraId = z.string().regex(
  /^[a-z0-9][a-z0-9-]{0,31}$/,
  "must be 1-32 of a-z, 0-9 and '-'",
);
/** Message ids, session ids, deployment ids: 8-64 of A-Z, a-z, 0-9, '_' and '-'. */
export const id = z.string().regex(
  /^[A-Za-z0-9][A-Za-z0-9_-]{7,63}$/,
  "must be 8-64 of A-Z, a-z, 0-9, '_' and '-'",
);
export const sku = z.string().regex(
  /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/,
  "must be 1-64 of A-Z, a-z, 0-9, '_' and '-'",
);
export const version = z.string().regex(
  /^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$/,
  "must be a version string such as 1.4.2",
);
/** Unix time in milliseconds. */
export const timestamp = z.int().min(0).max(8_640_000_000_000_000);
export const count = z.int().min(0);
export const bytes = z.int().min(0);
export const ratio = z.number().min(0).max(1);
export const nonNegative = z.number().min(0);
/** Money in minor units (cents): a non-negative integer. */
export const amount = z.int().min(0).describe("Money in minor units (cents)");
export const currency = z.string().regex(/^[A-Z]{3}$/, "must be an ISO 4217 code such as EUR");
export const shortText = z.string().min(1).max(500);
export const door = z.enum(["open", "closed", "unknown"]);
export const sha256 = z.string().regex(/^[0-9a-f]{64}$/, "must be 64 lowercase hex digits");

/** Fields every message has: schema version, unique message id, timestamp. */
export const envelope = {
  v: z.literal(SCHEMA_VERSION, {
    error: `unsupported schema version (this build reads ${SCHEMA_VERSION})`,
  }).describe("Schema version of the message"),
  id: id.describe(
    "Unique message id (UUIDv7 recommended); the JetStream de-duplication id (Nats-Msg-Id)",
  ),
  ts: timestamp.describe("When the message was made, Unix time in milliseconds"),
};

/** The envelope plus the device the message concerns. */
export const deviceEnvelope = {
  ...envelope,
  deviceId: deviceId.describe("Device the message concerns"),
};

/** One line of a cart: a SKU and how many. */
export const cartLine = z.strictObject({ sku, qty: z.int().min(1).max(1000) });

/** A cart: lines with distinct SKUs. */
export const cart = z.array(cartLine).max(200).superRefine((lines, ctx) => {
  const seen = new Set<string>();
  lines.forEach((line, i) => {
    if (seen.has(line.sku)) {
      ctx.addIssue({ code: "custom", path: [i, "sku"], message: `duplicate SKU "${line.sku}"` });
    }
    seen.add(line.sku);
  });
});
