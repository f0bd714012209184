/**
 * A door session's evidence, as the device sends it with the session's outcome: what the model
 * read in each slot just before the door opened and just after it closed, and where each camera's
 * crop of it was cut at those two moments. The cloud keeps it with the session's clips as a field
 * sample; a dataset builder cuts the same crops again from the clips and labels them.
 *
 * @example
 * ```ts
 * import { SessionEvidenceSchema } from "./session_evidence.ts";
 *
 * const r = SessionEvidenceSchema.safeParse({
 *   planogramVersion: 2,
 *   before: { ts: 1000, gain: {} },
 *   after: { ts: 900, gain: {} },
 *   slots: [],
 * });
 * console.log(r.success); // false: after.ts is before before.ts
 * ```
 *
 * @module
 */
import { z } from "zod";
import * as f from "./_fields.ts";

/** A rectangle in picture units (0..1 of the width and the height). */
export const RegionSchema = z.strictObject({
  x0: f.ratio,
  y0: f.ratio,
  x1: f.ratio,
  y1: f.ratio,
}).refine((r) => r.x1 > r.x0 && r.y1 > r.y0, {
  path: ["x1"],
  message: "must be right of and below x0, y0",
});

/** What the model read in one slot at one moment, all its cameras pooled. */
export const SlotReadingSchema = z.strictObject({
  /** The most likely SKU label (`empty` included). */
  sku: f.sku,
  skuP: f.ratio,
  count: z.int().min(0).max(99),
  countP: f.ratio,
});

const moment = z.strictObject({
  /** The picture's time, on the machine's reference clock (Unix ms). */
  ts: f.timestamp,
  /** Per camera, the light's gain per channel against its reference (1: as calibrated). */
  gain: z.record(f.cameraId, z.tuple([gainValue(), gainValue(), gainValue()]).readonly()),
});

function gainValue() {
  return z.number().min(0.01).max(100);
}

/** Schema of a door session's evidence. */
export const SessionEvidenceSchema = z.strictObject({
  /** The cloud's planogram version the session was decided by (null: none). */
  planogramVersion: z.int().min(1).nullable(),
  before: moment,
  after: moment,
  slots: z.array(z.strictObject({
    shelf: z.int().min(0).max(31),
    slot: z.int().min(0).max(63),
    /** The planogram's SKU (null: left empty). */
    sku: f.sku.nullable(),
    before: SlotReadingSchema.nullable(),
    after: SlotReadingSchema.nullable(),
    /** By camera id: where its crop was cut before and after. */
    regions: z.record(
      f.cameraId,
      z.strictObject({ before: RegionSchema.optional(), after: RegionSchema.optional() }),
    ),
  })).max(512),
}).refine((e) => e.after.ts >= e.before.ts, {
  path: ["after", "ts"],
  message: "must not be before before.ts",
});

/** A door session's evidence. */
export type SessionEvidenceWire = z.infer<typeof SessionEvidenceSchema>;
