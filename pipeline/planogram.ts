/**
 * The planogram: which SKU each shelf slot holds, and where each slot appears in each camera's
 * picture (a rectangle in 0..1 picture units, from the machine's calibration). Recognition crops
 * every slot from every camera by it. {@link simulatedPlanogram} derives one from a synthetic
 * scenario, the way an installer would calibrate a real cabinet.
 *
 * @example
 * ```ts
 * import { randomScenario } from "./scenario.ts";
 * import { simulatedPlanogram } from "./planogram.ts";
 *
 * const planogram = simulatedPlanogram(randomScenario(1));
 * console.log(planogram.slots[0]?.regions["cam-1"]); // { x0, y0, x1, y1 } in 0..1
 * ```
 *
 * @module
 */
import { type CameraPose, type Scenario } from "./scenario.ts";
import { slotBox } from "./synthetic_camera.ts";

/** A rectangle in picture units (0..1 of the width and the height). */
export interface Region {
  readonly x0: number;
  readonly y0: number;
  readonly x1: number;
  readonly y1: number;
}

/** One slot of the cabinet. */
export interface PlanogramSlot {
  /** Shelf index, from the top. */
  readonly shelf: number;
  /** Slot index on the shelf, from the left. */
  readonly slot: number;
  /** The SKU the slot is stocked with, or null when it is left empty. */
  readonly sku: string | null;
  /** Where the slot appears, by camera id (cameras that do not see it are absent). */
  readonly regions: Readonly<Record<string, Region>>;
}

/** A cabinet's slots. */
export interface Planogram {
  readonly slots: readonly PlanogramSlot[];
  /** The version of the cloud's planogram its SKUs came from, when they came from one. */
  readonly version?: number;
}

/** Where a scene point lands in a camera's picture, in picture units (the renderer's mapping). */
export function scenePoint(
  pose: CameraPose,
  p: { readonly x: number; readonly y: number },
): { x: number; y: number } {
  return {
    x: (p.x - 0.5 - pose.x) * pose.zoom + 0.5,
    y: (p.y - 0.5 - pose.y) * pose.zoom + 0.5,
  };
}

const clamp01 = (v: number) => Math.min(1, Math.max(0, v));

/** The planogram of a synthetic scenario (a simulation's calibration). */
export function simulatedPlanogram(scenario: Scenario): Planogram {
  const slots: PlanogramSlot[] = [];
  scenario.shelves.forEach((row, shelf) =>
    row.forEach((s, slot) => {
      const box = slotBox(scenario, shelf, slot);
      const regions: Record<string, Region> = {};
      for (const pose of scenario.cameras) {
        const a = scenePoint(pose, { x: box.x0, y: box.y0 });
        const b = scenePoint(pose, { x: box.x1, y: box.y1 });
        const r = { x0: clamp01(a.x), y0: clamp01(a.y), x1: clamp01(b.x), y1: clamp01(b.y) };
        // A camera sees the slot when most of it is in its picture.
        const seen = ((r.x1 - r.x0) * (r.y1 - r.y0)) / ((b.x - a.x) * (b.y - a.y));
        if (seen > 0.6) regions[pose.cameraId] = r;
      }
      slots.push({ shelf, slot, sku: s.sku, regions });
    })
  );
  return { slots };
}
