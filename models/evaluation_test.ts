import assert from "node:assert/strict";
import { confusionSvg, evaluateSlots } from "./evaluation.ts";

Deno.test("evaluateSlots counts hits, confusions and calibration", () => {
  // Three crops: SKU right, right, wrong; count right (0.95), right (0.65), wrong (0.55).
  const r = evaluateSlots(
    {
      sku: Float32Array.of(0.9, 0.1, 0.2, 0.8, 0.3, 0.7),
      count: Float32Array.of(0.95, 0.05, 0.35, 0.65, 0.55, 0.45),
    },
    {
      sku: Int32Array.of(0, 1, 0),
      count: Int32Array.of(0, 1, 1),
      labels: ["empty", "A"],
      maxCount: 1,
    },
  );
  assert.equal(r.crops, 3);
  assert.equal(r.skuAccuracy, 2 / 3);
  assert.equal(r.countAccuracy, 2 / 3);
  assert.deepEqual(r.skuConfusion, [[1, 1], [0, 1]]);
  assert.deepEqual(r.countConfusion, [[1, 0], [1, 1]]);
  assert.equal(r.skuClasses[1]!.precision, 0.5);
  assert.equal(r.skuClasses[0]!.recall, 0.5);
  // Bins: 0.9 (1 right, conf .95), 0.6 (1 right .65), 0.5 (1 wrong .55).
  const want = (Math.abs(1 - 0.95) + Math.abs(1 - 0.65) + Math.abs(0 - 0.55)) / 3;
  assert.ok(Math.abs(r.countEce - want) < 1e-6, `${r.countEce} vs ${want}`);
  assert.equal(r.countReliability[9]!.n, 1);
});

Deno.test("evaluateSlots refuses predictions of another length", () => {
  assert.throws(
    () =>
      evaluateSlots({ sku: new Float32Array(4), count: new Float32Array(2) }, {
        sku: Int32Array.of(0),
        count: Int32Array.of(0),
        labels: ["empty", "A"],
        maxCount: 1,
      }),
    RangeError,
  );
});

Deno.test("confusionSvg draws one cell per pair, escaping labels", () => {
  const svg = confusionSvg([[3, 1], [0, 4]], ["a<b", "c"], { title: "SKU" });
  assert.match(svg, /^<svg /);
  assert.match(svg, /a&lt;b/);
  assert.equal((svg.match(/<rect x=/g) ?? []).length, 4);
  assert.match(svg, />SKU</);
});

Deno.test("evaluateSlots scores the hand head: class, presence and the product held", () => {
  // Classes: 0 none, 1 empty hand, 2 hand holding "A". Truth: none, holding A, holding A, empty.
  // Predicted: none (right), holding A (right), empty hand (wrong product, presence right), none.
  const hand = Float32Array.of(
    ...[0.9, 0.05, 0.05],
    ...[0.1, 0.2, 0.7],
    ...[0.1, 0.6, 0.3],
    ...[0.8, 0.1, 0.1],
  );
  const r = evaluateSlots(
    { sku: new Float32Array(8).fill(0.5), count: new Float32Array(8).fill(0.5), hand },
    {
      sku: Int32Array.of(0, 0, 0, 0),
      count: Int32Array.of(0, 0, 0, 0),
      hand: Int32Array.of(0, 2, 2, 1),
      labels: ["empty", "A"],
      maxCount: 1,
    },
  );
  assert.ok(r.hand);
  assert.equal(r.hand.accuracy, 2 / 4);
  assert.equal(r.hand.presenceAccuracy, 3 / 4);
  assert.equal(r.hand.held, 2);
  assert.equal(r.hand.heldAccuracy, 1 / 2);
  assert.deepEqual(r.hand.confusion, [[1, 0, 0], [1, 0, 0], [0, 1, 1]]);
  assert.throws(
    () =>
      evaluateSlots({ sku: new Float32Array(2), count: new Float32Array(2), hand }, {
        sku: Int32Array.of(0),
        count: Int32Array.of(0),
        hand: Int32Array.of(0),
        labels: ["empty", "A"],
        maxCount: 1,
      }),
    /1 hand labels against 4 hand predictions/,
  );
});
