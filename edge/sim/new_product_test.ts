import assert from "node:assert/strict";
import { DEFAULT_PRODUCTS } from "../../pipeline/mod.ts";
import { newProduct } from "./new_product.ts";

Deno.test("newProduct draws the same look from the same appearance seed, and another from another", () => {
  assert.deepEqual(newProduct(3), newProduct(3));
  const looks = new Set(Array.from({ length: 20 }, (_, i) => JSON.stringify(newProduct(i).look)));
  assert.ok(looks.size >= 19, `${looks.size} looks of 20 seeds`);
});

Deno.test("newProduct never looks like a catalogue product of the same shape and pattern", () => {
  for (let seed = 0; seed < 500; seed++) {
    const p = newProduct(seed, { sku: "NOVA-250" });
    assert.equal(p.sku, "NOVA-250");
    for (const other of DEFAULT_PRODUCTS) {
      if (other.look.shape !== p.look.shape || other.look.pattern !== p.look.pattern) continue;
      const [r, g, b] = p.look.color.map((c, i) => c - other.look.color[i]!);
      assert.ok(Math.hypot(r!, g!, b!) >= 120, `seed ${seed} looks like ${other.sku}`);
    }
  }
});

Deno.test("newProduct refuses a seed or a SKU that is not one", () => {
  assert.throws(() => newProduct(-1), TypeError);
  assert.throws(() => newProduct(1.5), TypeError);
  assert.throws(() => newProduct(1, { sku: "new product" }), /Invalid SKU/);
});
