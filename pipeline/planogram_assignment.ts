/**
 * A cabinet's planogram from its two owners: the calibration (which slots it has and where each
 * appears in each camera's picture: the device's, from its installation) and the assignment
 * (which SKU each slot holds: the operator's, sent by the cloud). The result keeps the
 * calibration's slots in their order, so pictures cut before and after a new assignment line
 * up; a calibrated slot the assignment leaves out is empty.
 *
 * @example
 * ```ts
 * import { assignSkus } from "./planogram_assignment.ts";
 *
 * const calibration = {
 *   slots: [{ shelf: 0, slot: 0, sku: null, regions: { "cam-1": { x0: 0, y0: 0, x1: 0.2, y1: 0.2 } } }],
 * };
 * const planogram = assignSkus(calibration, [{ shelf: 0, slot: 0, sku: "COLA-330" }], {
 *   cameras: ["cam-1"],
 * });
 * console.log(planogram.slots[0]?.sku); // "COLA-330"
 * ```
 *
 * @module
 */
import type { Planogram } from "./planogram.ts";
import { PlanogramError } from "./planogram_check.ts";

/** One slot's SKU as the operator assigns it. */
export interface SkuAssignment {
  /** Shelf index, from the top. */
  readonly shelf: number;
  /** Slot index on the shelf, from the left. */
  readonly slot: number;
  /** The SKU, or null for a slot left empty. */
  readonly sku: string | null;
}

/** What {@link assignSkus} checks against. */
export interface AssignSkusOptions {
  /** The cabinet's cameras: a slot must be in view of one of them. Default: any camera. */
  readonly cameras?: Iterable<string>;
}

/**
 * The calibration with the assignment's SKUs; throws {@link PlanogramError} naming the
 * assignment's field (`slots.<i>`) for a slot listed twice or a slot no camera of the cabinet
 * sees. A SKU the model does not know is assigned (a product newly stocked: its sessions go to
 * review until a model learns it).
 */
export function assignSkus(
  calibration: Planogram,
  assignment: readonly SkuAssignment[],
  options: AssignSkusOptions = {},
): Planogram {
  const cameras = options.cameras ? new Set(options.cameras) : undefined;
  const seen = new Map<string, number>();
  const byKey = new Map(calibration.slots.map((s) => [`${s.shelf}/${s.slot}`, s]));
  const assigned = new Map<string, string | null>();
  for (const [i, a] of assignment.entries()) {
    const key = `${a.shelf}/${a.slot}`;
    const where = `shelf ${a.shelf} slot ${a.slot}`;
    const first = seen.get(key);
    if (first !== undefined) {
      throw new PlanogramError(`slots.${i}`, `${where} is listed twice (slots ${first} and ${i})`);
    }
    seen.set(key, i);
    const calibrated = byKey.get(key);
    const views = Object.keys(calibrated?.regions ?? {}).filter((c) => !cameras || cameras.has(c));
    if (views.length === 0) {
      throw new PlanogramError(`slots.${i}`, `${where} is seen by no camera of this cabinet`);
    }
    assigned.set(key, a.sku);
  }
  return {
    slots: calibration.slots.map((s) => ({
      ...s,
      sku: assigned.get(`${s.shelf}/${s.slot}`) ?? null,
    })),
  };
}
