/**
 * A machine's planogram as the cloud owns it and sends it: which SKU each shelf slot holds and
 * its par level (the units a restock fills it to), under a version the cloud raises with each
 * change. Where each slot appears in each camera's picture is the device's own calibration; the
 * device reports which slots its cameras see (`calibration`), so the cloud can refuse a
 * planogram naming a slot no camera sees.
 *
 * @example
 * ```ts
 * import { MachinePlanogramSchema } from "./machine_planogram.ts";
 *
 * const p = MachinePlanogramSchema.safeParse({
 *   version: 1,
 *   slots: [{ shelf: 0, slot: 0, sku: "COLA-330", par: 4 }, { shelf: 0, slot: 0, sku: null, par: 0 }],
 * });
 * console.log(p.success); // false: shelf 0 slot 0 is listed twice (slots.1)
 * ```
 *
 * @module
 */
import { z } from "zod";
import * as f from "./_fields.ts";

/** One slot of a machine's planogram. */
export const SlotAssignmentSchema = z.strictObject({
  /** Shelf index, from the top. */
  shelf: z.int().min(0).max(31),
  /** Slot index on the shelf, from the left. */
  slot: z.int().min(0).max(63),
  /** The SKU the slot is stocked with, or null for a slot left empty. */
  sku: f.sku.nullable(),
  /** Units a restock fills the slot to. */
  par: z.int().min(0).max(99),
});

/** Refuses a slot listed twice, naming the second one (`slots.<i>`). */
function uniqueSlots(
  slots: readonly { shelf: number; slot: number }[],
  ctx: z.RefinementCtx,
): void {
  const seen = new Map<string, number>();
  slots.forEach((s, i) => {
    const key = `${s.shelf}/${s.slot}`;
    const first = seen.get(key);
    if (first !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: [i],
        message: `shelf ${s.shelf} slot ${s.slot} is listed twice (also slots.${first})`,
      });
    } else seen.set(key, i);
  });
}

/** The slots of a planogram: 1-512, each shelf and slot once. */
export const SlotAssignmentsSchema = z.array(SlotAssignmentSchema).min(1).max(512)
  .superRefine(uniqueSlots);

/** A machine's planogram at one version. */
export const MachinePlanogramSchema = z.strictObject({
  /** Raised by one with every change, by the cloud. */
  version: z.int().min(1),
  slots: SlotAssignmentsSchema,
});

/** What a device's cameras see of its cabinet: each calibrated slot and the cameras that see it. */
export const CalibrationSchema = z.array(z.strictObject({
  shelf: z.int().min(0).max(31),
  slot: z.int().min(0).max(63),
  cameras: z.array(f.cameraId).min(1).max(16),
})).max(512);

/** One slot of a machine's planogram. */
export type SlotAssignment = z.infer<typeof SlotAssignmentSchema>;
/** A machine's planogram at one version. */
export type MachinePlanogram = z.infer<typeof MachinePlanogramSchema>;
/** The slots a device's cameras see. */
export type Calibration = z.infer<typeof CalibrationSchema>;
