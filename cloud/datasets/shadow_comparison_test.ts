import assert from "node:assert/strict";
import type { FieldSample } from "./field_samples.ts";
import { compareShadow, sameCart, type ShadowSession } from "./shadow_comparison.ts";

type Cart = { sku: string; qty: number }[];

let next = 0;
function session(
  live: { cart: Cart; review?: boolean },
  cand: { cart: Cart; review?: boolean; version?: string } | null,
  truth: Cart | null,
): ShadowSession {
  const sample: FieldSample = {
    sessionId: `s${next++}`,
    machineId: "m001",
    deviceId: "m001-a",
    openedAt: 1,
    closedAt: 2,
    modelVersion: "1.0.0",
    decision: {
      cart: live.cart,
      confidence: 0.9,
      lineConfidence: null,
      reviewReasons: live.review ? ["low confidence"] : [],
    },
    evidence: null,
    candidate: cand && {
      modelVersion: cand.version ?? "2.0.0",
      cart: cand.cart,
      confidence: 0.99,
      review: { required: cand.review ?? false, reasons: cand.review ? ["low confidence"] : [] },
      liveMs: 100,
      candidateMs: 140,
    },
    clips: [],
    recordedAt: 1,
    clipsExpireAt: 3,
    clipsDeletedAt: null,
  };
  return { sample, truth };
}

const cola = [{ sku: "cola", qty: 1 }];
const water = [{ sku: "water", qty: 1 }];

Deno.test("sameCart ignores line order and zero lines", () => {
  assert.ok(sameCart([{ sku: "a", qty: 1 }, { sku: "b", qty: 2 }], [
    { sku: "b", qty: 2 },
    { sku: "a", qty: 1 },
    { sku: "c", qty: 0 },
  ]));
  assert.ok(!sameCart(cola, [{ sku: "cola", qty: 2 }]));
});

Deno.test("compareShadow keeps collecting below the reviewed sessions it needs", () => {
  const c = compareShadow([
    session({ cart: cola }, { cart: cola }, cola),
    session({ cart: cola }, { cart: cola }, null),
  ], { candidate: "2.0.0", minReviewed: 2 });
  assert.equal(c.sessions, 2);
  assert.equal(c.reviewed, 1);
  assert.equal(c.verdict.state, "collecting");
  assert.equal(c.verdict.reason, "1 of 2 reviewed sessions decided by both models");
  assert.equal(c.agreement, 1);
  assert.equal(c.live.meanMs, 100);
  assert.equal(c.candidateScore.meanMs, 140);
});

Deno.test("compareShadow promotes a candidate that charges what the live model sent to review", () => {
  // The new product: the live model sends it to review, the candidate charges it right.
  const sessions = [
    ...Array.from({ length: 3 }, () => session({ cart: [], review: true }, { cart: water }, water)),
    session({ cart: cola }, { cart: cola }, cola),
  ];
  const c = compareShadow(sessions, { candidate: "2.0.0", minReviewed: 4 });
  assert.equal(c.verdict.state, "promote", c.verdict.reason);
  assert.equal(c.live.rightCharges, 1);
  assert.equal(c.live.reviewRate, 0.75);
  assert.equal(c.candidateScore.rightCharges, 4);
  assert.equal(c.candidateScore.exact, 4);
  assert.equal(c.candidateScore.reviewRate, 0);
  assert.equal(c.agreement, 0.25);
  assert.match(c.verdict.reason, /4 right and 0 wrong carts, the live model 1 and 0, over 4/);
});

Deno.test("compareShadow stops a candidate that would charge a wrong cart", () => {
  const c = compareShadow([
    session({ cart: cola }, { cart: water }, cola),
    session({ cart: water }, { cart: water }, water),
  ], { candidate: "2.0.0", minReviewed: 2 });
  assert.equal(c.verdict.state, "stop");
  assert.equal(
    c.verdict.reason,
    "the candidate would have charged 1 wrong carts, the live model 0, over 2 reviewed sessions",
  );
});

Deno.test("compareShadow stops a candidate that sends right carts to review", () => {
  const c = compareShadow([
    session({ cart: cola }, { cart: cola, review: true }, cola),
  ], { candidate: "2.0.0", minReviewed: 1 });
  assert.equal(c.verdict.state, "stop");
  assert.match(c.verdict.reason, /charged 0 right carts, the live model 1/);
});

Deno.test("compareShadow leaves out sessions of another candidate or none", () => {
  const c = compareShadow([
    session({ cart: cola }, { cart: water, version: "3.0.0" }, cola),
    session({ cart: cola }, null, cola),
  ], { candidate: "2.0.0", minReviewed: 1 });
  assert.equal(c.sessions, 0);
  assert.equal(c.agreement, null);
  assert.equal(c.live.meanMs, null);
  assert.throws(
    () => compareShadow([], { candidate: "2.0.0", minReviewed: 0 }),
    RangeError,
  );
});
