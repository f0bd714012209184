import assert from "node:assert/strict";
import {
  CatalogueError,
  catalogueProducts,
  DEFAULT_CATALOGUE,
  parseCatalogue,
  skuLabels,
} from "./catalogue.ts";

Deno.test("the default catalogue prices every default product and labels start with empty", () => {
  assert.equal(DEFAULT_CATALOGUE.items.length, 12);
  assert.ok(DEFAULT_CATALOGUE.items.every((i) => i.priceMinor > 0 && i.currency === "EUR"));
  const labels = skuLabels(DEFAULT_CATALOGUE);
  assert.equal(labels[0], "empty");
  assert.equal(labels[1], "COLA-330");
  assert.equal(catalogueProducts(DEFAULT_CATALOGUE)[0]?.look.shape, "can");
});

Deno.test("parseCatalogue names the wrong field", () => {
  const item = DEFAULT_CATALOGUE.items[0]!;
  const bad = (items: unknown[], field: string, why: RegExp) =>
    assert.throws(
      () => parseCatalogue({ version: "1", items }),
      (e) => e instanceof CatalogueError && e.field === field && why.test(e.message),
      field,
    );
  bad([{ ...item, priceMinor: -1 }], "items[0].priceMinor", />=0|too small/i);
  bad([{ ...item, priceMinor: 2.5 }], "items[0].priceMinor", /int/i);
  bad([item, item], "items[1].sku", /repeats/);
  bad([item, { ...item, sku: "X-1", currency: "USD" }], "items[1].currency", /EUR/);
  bad([{ ...item, sku: "cola" }], "items[0].sku", /A-Z/);
  bad([], "items", /too small|at least/i);
  bad([{ ...item, look: { ...item.look, shape: "tube" } }], "items[0].look.shape", /Invalid/);
});
