import assert from "node:assert/strict";
import { assignSkus } from "./planogram_assignment.ts";
import { PlanogramError } from "./planogram_check.ts";
import type { Planogram } from "./planogram.ts";

const box = { x0: 0, y0: 0, x1: 0.2, y1: 0.2 };
const calibration: Planogram = {
  slots: [
    { shelf: 0, slot: 0, sku: null, regions: { "cam-1": box } },
    { shelf: 0, slot: 1, sku: null, regions: { "cam-3": box } },
    { shelf: 1, slot: 0, sku: null, regions: { "cam-1": box, "cam-2": box } },
  ],
};

Deno.test("assignSkus keeps the calibration's slots in order and empties those left out", () => {
  const p = assignSkus(calibration, [
    { shelf: 1, slot: 0, sku: "TEA-500" },
    { shelf: 0, slot: 0, sku: "COLA-330" },
  ]);
  assert.deepEqual(p.slots.map((s) => [s.shelf, s.slot, s.sku]), [
    [0, 0, "COLA-330"],
    [0, 1, null],
    [1, 0, "TEA-500"],
  ]);
  assert.deepEqual(p.slots[2]!.regions, calibration.slots[2]!.regions);
});

Deno.test("assignSkus names the assignment's field of a slot twice and of an unseen slot", () => {
  const refused = (assignment: Parameters<typeof assignSkus>[1], cameras?: string[]) => {
    try {
      assignSkus(calibration, assignment, cameras ? { cameras } : {});
    } catch (e) {
      assert.ok(e instanceof PlanogramError);
      return `${e.field}: ${e.message}`;
    }
    assert.fail("accepted");
  };
  assert.match(
    refused([{ shelf: 0, slot: 0, sku: null }, { shelf: 0, slot: 0, sku: "COLA-330" }]),
    /^slots\.1: shelf 0 slot 0 is listed twice/,
  );
  assert.match(
    refused([{ shelf: 5, slot: 0, sku: null }]),
    /^slots\.0: shelf 5 slot 0 is seen by no camera/,
  );
  // Calibrated for cam-3, but this cabinet has only cam-1 and cam-2.
  assert.match(
    refused([{ shelf: 0, slot: 1, sku: null }], ["cam-1", "cam-2"]),
    /^slots\.0: shelf 0 slot 1 is seen by no camera/,
  );
});

Deno.test("assignSkus assigns a SKU no model knows yet (a product newly stocked)", () => {
  const p = assignSkus(calibration, [{ shelf: 0, slot: 1, sku: "NEW-1" }], { cameras: ["cam-3"] });
  assert.equal(p.slots[1]!.sku, "NEW-1");
});
