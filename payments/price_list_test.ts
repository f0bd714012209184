import assert from "node:assert/strict";
import { DEFAULT_CATALOGUE } from "../models/mod.ts";
import { priceCart, priceList, UnknownSkuError } from "./price_list.ts";

Deno.test("priceCart prices each line from the machine's list and totals in minor units", () => {
  const list = priceList(DEFAULT_CATALOGUE, { skus: ["COLA-330", "GUM-14"] });
  assert.equal(list.items.size, 2);
  const cola = list.items.get("COLA-330")!.unitPrice;
  const gum = list.items.get("GUM-14")!.unitPrice;
  const priced = priceCart([{ sku: "GUM-14", qty: 1 }, { sku: "COLA-330", qty: 2 }], list);
  assert.deepEqual(priced.lines.map((l) => [l.sku, l.qty, l.total]), [
    ["COLA-330", 2, 2 * cola],
    ["GUM-14", 1, gum],
  ]);
  assert.equal(priced.total, 2 * cola + gum);
  assert.deepEqual(priceCart([], list), { lines: [], total: 0 });
});

Deno.test("priceCart refuses an unknown SKU, a bad quantity and a repeated line", () => {
  const list = priceList(DEFAULT_CATALOGUE, { skus: ["COLA-330"] });
  assert.throws(
    () => priceCart([{ sku: "WATER-500", qty: 1 }], list),
    (e) =>
      e instanceof UnknownSkuError && e.sku === "WATER-500" &&
      /not in the machine's price list/.test(e.message),
  );
  assert.throws(
    () => priceCart([{ sku: "COLA-330", qty: 0 }], list),
    /Invalid quantity 0 of "COLA-330"/,
  );
  assert.throws(() => priceCart([{ sku: "COLA-330", qty: 1.5 }], list), RangeError);
  assert.throws(
    () => priceCart([{ sku: "COLA-330", qty: 1 }, { sku: "COLA-330", qty: 1 }], list),
    /appears twice/,
  );
});
