import assert from "node:assert/strict";
import { type FieldSampleInput, slotLabels } from "./field_crops.ts";

const labels = ["empty", "COLA-330", "WATER-500", "NEW-1"];
const modelLabels = ["empty", "COLA-330", "WATER-500"];
const r = (sku: string, count: number, countP = 0.97, skuP = 0.95) => ({
  sku,
  skuP,
  count,
  countP,
});
type Slot = NonNullable<FieldSampleInput["sample"]["evidence"]>["slots"][number];
const slot = (
  s: number,
  sku: string | null,
  before: Slot["before"],
  after: Slot["after"],
): Slot => ({
  shelf: 0,
  slot: s,
  sku,
  before,
  after,
  regions: { "cam-1": { before: { x0: 0, y0: 0, x1: 0.2, y1: 0.2 } } },
});

function sample(slots: Slot[], cart: { sku: string; qty: number }[]): FieldSampleInput {
  return {
    sample: {
      sessionId: "s-00000001",
      clips: [],
      evidence: {
        planogramVersion: 3,
        before: { ts: 0, gain: {} },
        after: { ts: 1, gain: {} },
        slots,
      },
    },
    label: { source: "reviewed", cart },
    planogram: {
      version: 3,
      slots: slots.map((s) => ({ shelf: s.shelf, slot: s.slot, sku: s.sku, par: 4 })),
    },
  };
}

Deno.test("slotLabels labels a slot from the planogram, a sure count and the cart", () => {
  const x = sample([
    slot(0, "COLA-330", r("COLA-330", 3), r("COLA-330", 2, 0.5)), // the after count unsure
    slot(1, "WATER-500", r("WATER-500", 1, 0.6), r("empty", 0)), // the before count unsure
    slot(2, null, r("empty", 0), r("empty", 0)),
  ], [{ sku: "COLA-330", qty: 1 }, { sku: "WATER-500", qty: 1 }]);
  const l = slotLabels(x, { labels, modelLabels });
  assert.deepEqual(l.get("0/0"), { before: { sku: 1, count: 3 }, after: { sku: 1, count: 2 } });
  // The last unit taken: empty after.
  assert.deepEqual(l.get("0/1"), { before: { sku: 2, count: 1 }, after: { sku: 0, count: 0 } });
  assert.deepEqual(l.get("0/2"), { before: { sku: 0, count: 0 }, after: { sku: 0, count: 0 } });
});

Deno.test("slotLabels leaves out what it is not sure of, saying why", () => {
  const x = sample([
    slot(0, "COLA-330", r("COLA-330", 3, 0.6), r("COLA-330", 2, 0.6)), // no sure count
    slot(1, "WATER-500", r("WATER-500", 3), r("WATER-500", 3)), // sure, but the cart took one
    slot(2, "COLA-330", r("WATER-500", 2, 0.97, 0.9), r("WATER-500", 2, 0.97, 0.9)), // swapped?
  ], [{ sku: "WATER-500", qty: 1 }]);
  const l = slotLabels(x, { labels, modelLabels });
  assert.equal(l.get("0/1"), "count_uncertain");
  // COLA-330 stands in two slots: only if both are read surely and add up to the cart.
  assert.equal(l.get("0/0"), "count_uncertain");
  assert.equal(l.get("0/2"), "count_uncertain");
  const swapped = sample([slot(0, "COLA-330", r("WATER-500", 2), r("WATER-500", 2))], []);
  assert.equal(slotLabels(swapped, { labels, modelLabels }).get("0/0"), "slot_disagrees");
  const otherPlanogram = sample([slot(0, "COLA-330", r("COLA-330", 2), r("COLA-330", 2))], []);
  const p = {
    ...otherPlanogram,
    planogram: { version: 3, slots: [{ shelf: 0, slot: 0, sku: "WATER-500", par: 4 }] },
  };
  assert.equal(slotLabels(p, { labels, modelLabels }).get("0/0"), "planogram_mismatch");
  const unknown = sample([slot(0, "GHOST-1", r("COLA-330", 2), r("COLA-330", 2))], []);
  assert.equal(slotLabels(unknown, { labels, modelLabels }).get("0/0"), "sku_not_in_labels");
});

Deno.test("slotLabels trusts the planogram for a product the model never saw only where the cart took it", () => {
  // The model calls the new product COLA-330 (the closest it knows).
  const seen = [r("COLA-330", 2, 0.95, 0.8), r("COLA-330", 1, 0.95, 0.8)] as const;
  const taken = sample([slot(0, "NEW-1", ...seen)], [{ sku: "NEW-1", qty: 1 }]);
  assert.deepEqual(slotLabels(taken, { labels, modelLabels }).get("0/0"), {
    before: { sku: 3, count: 2 },
    after: { sku: 3, count: 1 },
  });
  const untouched = sample([slot(0, "NEW-1", seen[0], seen[0])], [{ sku: "COLA-330", qty: 1 }]);
  assert.equal(slotLabels(untouched, { labels, modelLabels }).get("0/0"), "slot_disagrees");
  // Once the model knows it, its disagreement counts like any other.
  assert.equal(
    slotLabels(taken, { labels, modelLabels: labels }).get("0/0"),
    "slot_disagrees",
  );
});
