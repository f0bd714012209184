import assert from "node:assert/strict";
import type { PaymentSession } from "../../payments/mod.ts";
import { fieldLabel } from "./field_label.ts";
import { clipHold } from "./clip_retention.ts";

const settled: PaymentSession = {
  sessionId: "s-00000001",
  customerId: "c-00000001",
  machineId: "m001",
  currency: "EUR",
  state: "settled",
  hold: { holdId: "h1", amount: 2000 },
  deviceCart: [{ sku: "COLA-330", qty: 1 }],
  confidence: 0.97,
  reviewReasons: [],
  reviewer: null,
  cart: [{ sku: "COLA-330", qty: 1 }],
  captured: 250,
  released: 1750,
  refunded: 0,
  refunds: 0,
  receiptTotal: 250,
  disputed: false,
  dispute: null,
  failure: null,
  startedAt: 0,
  updatedAt: 1,
  steps: 6,
};
const options = { minConfidence: 0.95, skus: new Set(["COLA-330", "WATER-500", "NEW-1"]) };

Deno.test("fieldLabel labels a confident charge nobody disputed, and a reviewer's cart", () => {
  assert.deepEqual(fieldLabel(settled, options), {
    label: {
      source: "confident",
      cart: [{ sku: "COLA-330", qty: 1 }],
      reviewer: null,
      corrected: false,
    },
  });
  const reviewed = {
    ...settled,
    confidence: 0.3,
    reviewer: "ana",
    deviceCart: [],
    cart: [{ sku: "NEW-1", qty: 2 }],
  };
  assert.deepEqual(fieldLabel(reviewed, options), {
    label: {
      source: "reviewed",
      cart: [{ sku: "NEW-1", qty: 2 }],
      reviewer: "ana",
      corrected: true,
    },
  });
  // Approving the device's cart (in another order) is not a correction.
  const approved = {
    ...settled,
    reviewer: "ana",
    deviceCart: [{ sku: "WATER-500", qty: 1 }, { sku: "COLA-330", qty: 1 }],
    cart: [{ sku: "COLA-330", qty: 1 }, { sku: "WATER-500", qty: 1 }],
  };
  const l = fieldLabel(approved, options);
  assert.ok("label" in l && l.label.corrected === false);
});

Deno.test("fieldLabel gives no label, with the reason, to what nobody knows", () => {
  const cases: [Partial<PaymentSession>, string][] = [
    [{ deviceCart: null, state: "unlocked" }, "not_decided"],
    [{ state: "review" }, "in_progress"],
    [{ state: "capturing" }, "in_progress"],
    [{ state: "failed" }, "not_charged"],
    [{ disputed: true, dispute: { reason: "not me", clips: [] } }, "disputed"],
    [{ refunded: 250, refunds: 1 }, "refunded"],
    [{ reviewer: "policy:charge_sure_items" }, "policy_review"],
    [{ confidence: 0.9 }, "below_confidence"],
    [{ reviewer: "ana", cart: [{ sku: "GHOST-1", qty: 1 }] }, "unknown_sku"],
  ];
  for (const [change, reason] of cases) {
    assert.deepEqual(fieldLabel({ ...settled, ...change }, options), { skip: reason }, reason);
  }
  assert.throws(() => fieldLabel(settled, { ...options, minConfidence: 2 }), RangeError);
});

Deno.test("clipHold holds a review, a dispute and a person's review, not a policy's", () => {
  assert.equal(clipHold(settled), null);
  assert.equal(clipHold({ ...settled, state: "review" }), "review");
  assert.equal(clipHold({ ...settled, disputed: true }), "dispute");
  assert.equal(clipHold({ ...settled, reviewer: "ana" }), "reviewed");
  assert.equal(clipHold({ ...settled, reviewer: "policy:release" }), null);
});
