import assert from "node:assert/strict";
import { decideCart, poolViews, reviewReasonKind, type SlotEvidence } from "./cart_decision.ts";

const labels = ["empty", "COLA-330", "WATER-500"];

/** A camera view that is `p` sure of `count` units of label `sku`. */
function view(cameraId: string, count: number, p = 0.99, sku = 1) {
  return {
    cameraId,
    sku: Float32Array.from(labels, (_, i) => (i === sku ? 0.98 : 0.01)),
    count: Float32Array.from({ length: 5 }, (_, c) => (c === count ? p : (1 - p) / 4)),
  };
}

const slot = (s: number, sku: string | null, views: SlotEvidence["views"]): SlotEvidence => ({
  shelf: 0,
  slot: s,
  sku,
  views,
});

Deno.test("decideCart charges what left each slot, by the planogram's SKU", () => {
  const d = decideCart(
    [
      slot(0, "COLA-330", [view("a", 3), view("b", 3)]),
      slot(1, "WATER-500", [view("a", 2, 0.99, 2)]),
    ],
    [
      slot(0, "COLA-330", [view("a", 1), view("b", 1)]),
      slot(1, "WATER-500", [view("a", 2, 0.99, 2)]),
    ],
    { labels, modelVersion: "m 1" },
  );
  assert.deepEqual(d.cart, [{ sku: "COLA-330", qty: 2 }]);
  assert.deepEqual(d.reviewReasons, []);
  // Each line says how sure its slots' change is.
  assert.ok(d.lineConfidence!["COLA-330"]! > 0.95, JSON.stringify(d.lineConfidence));
  assert.deepEqual(Object.keys(d.lineConfidence!), ["COLA-330"]);
  assert.ok(d.confidence > 0.95, `${d.confidence}`);
  assert.equal(d.modelVersion, "m 1");
});

Deno.test("decideCart sends an unsure session to review instead of guessing", () => {
  const d = decideCart(
    [slot(0, "COLA-330", [view("a", 3, 0.5)])],
    [slot(0, "COLA-330", [view("a", 2, 0.5)])],
    { labels, threshold: 0.8 },
  );
  assert.deepEqual(
    d.cart,
    [{ sku: "COLA-330", qty: 1 }],
    "the best guess is kept for the reviewer",
  );
  assert.match(d.reviewReasons[0]!, /^confidence 0\.\d\d below 0\.80$/);
});

Deno.test("decideCart is less sure with a camera missing, but still decides", () => {
  const both = decideCart(
    [slot(0, "COLA-330", [view("a", 3, 0.9), view("b", 3, 0.9)])],
    [slot(0, "COLA-330", [view("a", 2, 0.9), view("b", 2, 0.9)])],
    { labels },
  );
  const one = decideCart(
    [slot(0, "COLA-330", [view("a", 3, 0.9)])],
    [slot(0, "COLA-330", [view("a", 2, 0.9)])],
    { labels },
  );
  assert.deepEqual(one.cart, both.cart);
  assert.ok(one.confidence < both.confidence, `${one.confidence} < ${both.confidence}`);
});

Deno.test("decideCart flags a foreign product, more units after than before, and an unseen slot", () => {
  const foreign = decideCart(
    [slot(0, "COLA-330", [view("a", 2, 0.99, 2)])],
    [slot(0, "COLA-330", [view("a", 2, 0.99, 2)])],
    { labels },
  );
  assert.match(
    foreign.reviewReasons[0]!,
    /slot 0\/0 holds WATER-500 before the session; the planogram says COLA-330/,
  );
  const more = decideCart(
    [slot(0, "COLA-330", [view("a", 1)])],
    [slot(0, "COLA-330", [view("a", 2)])],
    { labels },
  );
  assert.deepEqual(more.cart, []);
  assert.match(more.reviewReasons.join(), /1 more COLA-330 after the session than before/);
  const unseen = decideCart([slot(0, "COLA-330", [view("a", 1)])], [], { labels });
  assert.match(unseen.reviewReasons[0]!, /slot 0\/0 was not seen after the door closed/);
  assert.equal(unseen.confidence, 0);
});

Deno.test("poolViews multiplies views and normalises; no view is uniform", () => {
  const p = poolViews([Float32Array.of(0.8, 0.2), Float32Array.of(0.8, 0.2)], 2);
  assert.ok(Math.abs(p[0]! - 0.64 / 0.68) < 1e-9);
  assert.deepEqual([...poolViews([], 4)], [0.25, 0.25, 0.25, 0.25]);
  assert.throws(() => poolViews([Float32Array.of(1)], 2), RangeError);
});

Deno.test("decideCart keeps its confidence within 0..1 and treats NaN outputs as no evidence", () => {
  const sure = (count: number) => ({
    cameraId: "a",
    sku: Float32Array.of(0, 1, 0),
    count: Float32Array.from({ length: 5 }, (_, c) => (c === count ? 1 : 0)),
  });
  const one = decideCart([slot(0, "COLA-330", [sure(2)])], [slot(0, "COLA-330", [sure(2)])], {
    labels,
  });
  assert.ok(one.confidence <= 1 && one.confidence > 0.99);
  const nan = {
    cameraId: "a",
    sku: Float32Array.of(NaN, NaN, NaN),
    count: Float32Array.from({ length: 5 }, () => NaN),
  };
  const broken = decideCart([slot(0, "COLA-330", [nan])], [slot(0, "COLA-330", [nan])], { labels });
  assert.equal(broken.confidence, 0);
  assert.match(broken.reviewReasons.join(), /not numbers/);
});

Deno.test("decideCart sends at most 20 reasons", () => {
  const before = Array.from({ length: 30 }, (_, i) => slot(i, "COLA-330", [view("a", 1)]));
  const d = decideCart(before, [], { labels });
  assert.equal(d.reviewReasons.length, 20);
  assert.equal(d.reviewReasons[19], "and 11 more reasons");
});

Deno.test("reviewReasonKind counts reasons with other figures as one kind", () => {
  assert.equal(
    reviewReasonKind("confidence 0.62 below 0.80"),
    reviewReasonKind("confidence 0.41 below 0.80"),
  );
  assert.notEqual(
    reviewReasonKind("confidence 0.62 below 0.80"),
    reviewReasonKind("camera cam-3 lost"),
  );
  assert.equal(reviewReasonKind("slot 0/1 holds TEA-500"), "slot 0/1 holds TEA-500");
});

Deno.test("decideCart at a machine with no planogram gives one reason, not one per slot", () => {
  const none = (s: number, count: number) => slot(s, null, [view("a", count), view("b", count)]);
  const d = decideCart(
    [none(0, 3), none(1, 2), none(2, 4)],
    [none(0, 2), none(1, 2), none(2, 4)],
    { labels },
  );
  assert.deepEqual(d.reviewReasons, [
    "the machine has no planogram: what its slots hold is not known",
  ]);
  assert.deepEqual(d.cart, []);
  // One slot with a SKU is a planogram: its empty slots that changed are named.
  const some = decideCart(
    [slot(0, "COLA-330", [view("a", 3)]), none(1, 2)],
    [slot(0, "COLA-330", [view("a", 3)]), none(1, 1)],
    { labels },
  );
  assert.deepEqual(some.reviewReasons, [
    "slot 0/1 holds COLA-330 before the session; the planogram says empty",
    "slot 0/1 holds COLA-330 after the session; the planogram says empty",
    "slot 0/1 is empty in the planogram but changed from 2 to 1 units",
  ]);
});

Deno.test("decideCart sends every session of a slot holding a SKU the model does not know to review", () => {
  // TEA-500 is newly stocked; the model sees it as COLA-330 (the look it knows best).
  const before = [slot(0, "COLA-330", [view("a", 3)]), slot(1, "TEA-500", [view("a", 2)])];
  const taken = decideCart(before, [
    slot(0, "COLA-330", [view("a", 3)]),
    slot(1, "TEA-500", [
      view("a", 1),
    ]),
  ], { labels, modelVersion: "m 1" });
  assert.deepEqual(taken.reviewReasons, ["slot 0/1 holds TEA-500, which model m 1 does not know"]);
  assert.deepEqual(taken.cart, [{ sku: "TEA-500", qty: 1 }], "the reviewer's proposal");
  assert.ok(!taken.cart.some((l) => l.sku === "COLA-330"), "never charged as another SKU");
  // Untouched, it still goes to review: the model cannot tell its units from others'.
  const untouched = decideCart(before, before, { labels, modelVersion: "m 1" });
  assert.deepEqual(untouched.reviewReasons, [
    "slot 0/1 holds TEA-500, which model m 1 does not know",
  ]);
});
