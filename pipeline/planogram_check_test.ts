import assert from "node:assert/strict";
import type { Planogram, PlanogramSlot } from "./planogram.ts";
import { checkPlanogram, PlanogramError } from "./planogram_check.ts";

const box = { x0: 0.1, y0: 0.1, x1: 0.3, y1: 0.3 };
const slot = (shelf: number, s: number, sku: string | null, cams = ["cam-1"]): PlanogramSlot => ({
  shelf,
  slot: s,
  sku,
  regions: Object.fromEntries(cams.map((c) => [c, box])),
});
const options = { cameras: ["cam-1", "cam-2", "cam-3"] };

/** The PlanogramError `fn` throws. */
function refusal(fn: () => unknown): PlanogramError {
  try {
    fn();
  } catch (e) {
    if (e instanceof PlanogramError) return e;
    throw e;
  }
  assert.fail("the planogram was accepted");
}

Deno.test("checkPlanogram accepts a planogram the cabinet can use, empty slots included", () => {
  const p: Planogram = {
    slots: [slot(0, 0, "COLA-330"), slot(0, 1, null), slot(1, 0, "WATER-500")],
  };
  assert.equal(checkPlanogram(p, options), p);
});

Deno.test("checkPlanogram refuses a slot listed twice, naming it", () => {
  const e = refusal(() =>
    checkPlanogram(
      { slots: [slot(0, 0, "COLA-330"), slot(1, 0, null), slot(0, 0, "WATER-500")] },
      options,
    )
  );
  assert.equal(e.field, "slots.2");
  assert.match(e.message, /shelf 0 slot 0 is listed twice \(slots 0 and 2\)/);
});

Deno.test("checkPlanogram accepts a SKU no model knows yet (a product newly stocked)", () => {
  const p: Planogram = { slots: [slot(0, 0, "COLA-330"), slot(0, 1, "TEA-999")] };
  assert.equal(checkPlanogram(p, options), p);
});

Deno.test("checkPlanogram refuses a slot no camera of the cabinet sees", () => {
  const none = refusal(() => checkPlanogram({ slots: [slot(0, 0, "COLA-330", [])] }, options));
  assert.equal(none.field, "slots.0.regions");
  // Seen only by a camera this cabinet does not have.
  const other = refusal(() => checkPlanogram({ slots: [slot(2, 3, null, ["cam-9"])] }, options));
  assert.equal(other.field, "slots.0.regions");
  assert.match(
    other.message,
    /shelf 2 slot 3 is seen by no camera \(cameras: cam-1, cam-2, cam-3\)/,
  );
  // Without a list of cameras, any camera counts.
  assert.ok(checkPlanogram({ slots: [slot(0, 0, null, ["cam-9"])] }));
});
