import assert from "node:assert/strict";
import { randomScenario, scenarioTruth } from "../../pipeline/mod.ts";
import { newProduct } from "./new_product.ts";
import { stockScenario } from "./world_stocking.ts";

const SLOTS = randomScenario(1).shelves.flatMap((row, shelf) =>
  row.map((_, slot) => ({ shelf, slot, sku: ["COLA-330", "TEA-500", "GUM-14"][slot % 3]! }))
);

Deno.test("stockScenario stocks every slot as the planogram says and the shopper takes what is there", () => {
  const base = randomScenario(11);
  const { scenario, deviations } = stockScenario(base, { slots: SLOTS });
  assert.deepEqual(deviations, []);
  scenario.shelves.forEach((row, s) =>
    row.forEach((slot, k) => {
      assert.equal(slot.sku, ["COLA-330", "TEA-500", "GUM-14"][k % 3]);
      assert.equal(slot.stock, base.shelves[s]![k]!.stock);
    })
  );
  assert.equal(scenario.actions.length, base.actions.length);
  for (const a of scenario.actions) assert.equal(a.sku, scenario.shelves[a.shelf]![a.slot]!.sku);
});

Deno.test("stockScenario leaves unlisted slots empty and drops the takes from them", () => {
  const base = randomScenario(12);
  const taken = base.actions[0]!;
  const slots = SLOTS.filter((s) => !(s.shelf === taken.shelf && s.slot === taken.slot));
  const { scenario } = stockScenario(base, { slots });
  assert.deepEqual(scenario.shelves[taken.shelf]![taken.slot], { sku: null, stock: 0 });
  assert.ok(!scenario.actions.some((a) => a.shelf === taken.shelf && a.slot === taken.slot));
  assert.equal(scenario.actions.length < base.actions.length, true);
});

Deno.test("stockScenario swaps two slots' products and empties one, from the seed, and says so", () => {
  const seeds = [21, 22, 23, 24, 25, 26, 27, 28];
  const runs = seeds.map((seed) =>
    stockScenario(randomScenario(seed), {
      slots: SLOTS,
      deviations: { wrongSlot: 1, emptySlot: 1 },
    })
  );
  for (const { scenario, deviations } of runs) {
    assert.equal(deviations.length >= 1, true);
    const wrong = scenario.shelves.flat().filter((s, i) =>
      s.sku !== null && s.sku !== SLOTS[i]!.sku
    );
    const empty = scenario.shelves.flat().filter((s) => s.sku === null);
    assert.equal(empty.length, 1);
    if (deviations.some((d) => d.includes("swapped"))) assert.ok(wrong.length >= 1);
    // The truth is the world's: every SKU in the cart is one on the shelves.
    const skus = new Set(scenario.shelves.flat().map((s) => s.sku));
    for (const sku of scenarioTruth(scenario).carts[0]!.keys()) assert.ok(skus.has(sku));
  }
  // Deterministic: the same seed strays the same way.
  assert.deepEqual(
    stockScenario(randomScenario(21), { slots: SLOTS, deviations: { wrongSlot: 1 } }).deviations,
    stockScenario(randomScenario(21), { slots: SLOTS, deviations: { wrongSlot: 1 } }).deviations,
  );
  assert.throws(
    () => stockScenario(randomScenario(1), { slots: [{ shelf: 0, slot: 0, sku: "NOPE-1" }] }),
    /cannot show SKU "NOPE-1"/,
  );
  assert.throws(
    () => stockScenario(randomScenario(1), { slots: SLOTS, deviations: { emptySlot: 2 } }),
    RangeError,
  );
});

Deno.test("stockScenario shows a newly stocked product only when the world holds its look", () => {
  const base = randomScenario(13);
  const nova = newProduct(5, { sku: "NOVA-250" });
  const slots = SLOTS.map((s) => (s.slot === 1 ? { ...s, sku: "NOVA-250" } : s));
  assert.throws(() => stockScenario(base, { slots }), /cannot show SKU "NOVA-250"/);
  const { scenario } = stockScenario(base, { slots, products: [nova] });
  assert.deepEqual(scenario.products.at(-1), nova);
  assert.equal(scenario.products.length, base.products.length + 1);
  for (const row of scenario.shelves) assert.equal(row[1]!.sku, "NOVA-250");
  // Some seed's shopper takes it, and the truth says so.
  const takes = [13, 14, 15, 16, 17, 18, 19, 20].flatMap((
    seed,
  ) => [...scenarioTruth(stockScenario(randomScenario(seed), { slots, products: [nova] }).scenario)
    .carts[0]!.keys()]
  );
  assert.ok(takes.includes("NOVA-250"), JSON.stringify(takes));
});
