/**
 * Checks a planogram before a cabinet uses it: every slot once, every slot in view of a camera
 * the cabinet has. A planogram that fails is refused whole with a {@link PlanogramError} naming
 * the field (the cabinet keeps the one it has). A SKU the model does not know is not a fault of
 * the planogram (a product newly stocked): the sessions that touch its slot go to review until a
 * model learns it (see `cart_decision.ts`).
 *
 * @example
 * ```ts
 * import { checkPlanogram } from "./planogram_check.ts";
 *
 * checkPlanogram(
 *   { slots: [{ shelf: 0, slot: 0, sku: "COLA-330", regions: { "cam-1": { x0: 0, y0: 0, x1: 0.2, y1: 0.2 } } }] },
 *   { cameras: ["cam-1", "cam-2"] },
 * );
 * ```
 *
 * @module
 */
import type { Planogram } from "./planogram.ts";

/** A planogram a cabinet cannot use; `field` is where (`slots.3.sku`). */
export class PlanogramError extends Error {
  /** The field at fault, as a path into the planogram. */
  readonly field: string;
  /** Creates the error. */
  constructor(field: string, message: string) {
    super(message);
    this.name = "PlanogramError";
    this.field = field;
  }
}

/** What {@link checkPlanogram} checks against. */
export interface CheckPlanogramOptions {
  /** The cabinet's cameras: a slot must be in view of one of them. Default: any camera. */
  readonly cameras?: Iterable<string>;
}

/** Returns `planogram` if the cabinet can use it; throws {@link PlanogramError} otherwise. */
export function checkPlanogram(
  planogram: Planogram,
  options: CheckPlanogramOptions = {},
): Planogram {
  const cameras = options.cameras ? new Set(options.cameras) : undefined;
  const seen = new Map<string, number>();
  for (const [i, s] of planogram.slots.entries()) {
    const where = `shelf ${s.shelf} slot ${s.slot}`;
    const first = seen.get(`${s.shelf}/${s.slot}`);
    if (first !== undefined) {
      throw new PlanogramError(`slots.${i}`, `${where} is listed twice (slots ${first} and ${i})`);
    }
    seen.set(`${s.shelf}/${s.slot}`, i);
    const views = Object.keys(s.regions).filter((c) => !cameras || cameras.has(c));
    if (views.length === 0) {
      const which = cameras ? ` (cameras: ${[...cameras].join(", ")})` : "";
      throw new PlanogramError(`slots.${i}.regions`, `${where} is seen by no camera${which}`);
    }
  }
  return planogram;
}
