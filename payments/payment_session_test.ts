import assert from "node:assert/strict";
import type { PaymentEvent } from "../protocol/mod.ts";
import {
  applyPaymentEvent,
  InvalidTransitionError,
  type PaymentSession,
} from "./payment_session.ts";

const base = { ts: 1000, sessionId: "pay-s0000001", machineId: "m001", currency: "EUR" };
let n = 0;
// deno-lint-ignore no-explicit-any
const ev = (e: any): PaymentEvent => ({ ...base, id: `evt-${String(++n).padStart(6, "0")}`, ...e });

function run(events: PaymentEvent[]): PaymentSession {
  let s: PaymentSession | undefined;
  for (const e of events) s = applyPaymentEvent(s, e);
  return s!;
}

const opened = () => [
  ev({ type: "session_started", customerId: "cust-0001" }),
  ev({ type: "hold_authorized", amount: 2000, holdId: "hold_1" }),
  ev({ type: "unlock_sent", deviceId: "m001-a", commandId: "cmd-000001" }),
];

/** A session that held 2,000, had 2 colas of 250 taken, was charged 500 and got its receipt. */
const settledEvents = () => [
  ...opened(),
  ev({ type: "cart_received", cart: [{ sku: "COLA-330", qty: 2 }], confidence: 0.97 }),
  ev({ type: "captured", amount: 500, holdAmount: 2000 }),
  ev({ type: "hold_released", amount: 1500 }),
  ev({
    type: "receipt_issued",
    lines: [{ sku: "COLA-330", name: "Cola", qty: 2, unitPrice: 250, total: 500 }],
    total: 500,
  }),
];

Deno.test("a payment session goes from start to receipt, capturing the cart and releasing the rest", () => {
  const s = run([
    ...settledEvents(),
  ]);
  assert.equal(s.state, "settled");
  assert.deepEqual([s.captured, s.released, s.receiptTotal, s.steps], [500, 1500, 500, 7]);
  assert.deepEqual(s.cart, [{ sku: "COLA-330", qty: 2 }]);
});

Deno.test("a payment session never captures twice, nor above its hold", () => {
  const s = run([
    ...opened(),
    ev({ type: "cart_received", cart: [{ sku: "COLA-330", qty: 1 }], confidence: 0.9 }),
    ev({ type: "captured", amount: 250, holdAmount: 2000 }),
  ]);
  assert.throws(
    () => applyPaymentEvent(s, ev({ type: "captured", amount: 250, holdAmount: 2000 })),
    (e) => e instanceof InvalidTransitionError && /250 was already captured/.test(e.message),
  );
  const fresh = run([...opened(), ev({ type: "cart_received", cart: [], confidence: 1 })]);
  assert.throws(
    () => applyPaymentEvent(fresh, ev({ type: "captured", amount: 2001, holdAmount: 2000 })),
    /above the hold of 2000/,
  );
  assert.throws(
    () => applyPaymentEvent(fresh, ev({ type: "receipt_issued", lines: [], total: 0 })),
    /the hold of 2000 is not settled/,
  );
});

Deno.test("a review replaces the device's cart with the reviewer's before anything is captured", () => {
  const s = run([
    ...opened(),
    ev({ type: "cart_received", cart: [{ sku: "COLA-330", qty: 1 }], confidence: 0.4 }),
    ev({ type: "review_required", reasons: ["confidence 0.40 below 0.80"] }),
    ev({ type: "review_completed", reviewer: "op@example.com", cart: [{ sku: "GUM-14", qty: 1 }] }),
  ]);
  assert.equal(s.state, "capturing");
  assert.deepEqual(s.deviceCart, [{ sku: "COLA-330", qty: 1 }]);
  assert.deepEqual(s.cart, [{ sku: "GUM-14", qty: 1 }]);
  assert.equal(s.reviewer, "op@example.com");
});

Deno.test("refunds stay within the capture; events out of order, of another session or currency are refused", () => {
  const settled = run([
    ...settledEvents(),
  ]);
  const disputed = applyPaymentEvent(
    settled,
    ev({ type: "disputed", reason: "one, not two", clips: ["a".repeat(64)] }),
  );
  assert.deepEqual(disputed.dispute, { reason: "one, not two", clips: ["a".repeat(64)] });
  assert.throws(
    () => applyPaymentEvent(disputed, ev({ type: "disputed", reason: "again", clips: [] })),
    /already disputed/,
  );
  const once = applyPaymentEvent(settled, ev({ type: "refunded", amount: 250, sku: "COLA-330" }));
  assert.deepEqual([once.refunded, once.refunds], [250, 1]);
  assert.throws(
    () => applyPaymentEvent(once, ev({ type: "refunded", amount: 251, sku: null })),
    /251 is above what is left to refund \(250\)/,
  );
  assert.throws(
    () =>
      applyPaymentEvent(
        undefined,
        ev({ type: "unlock_sent", deviceId: "m001-a", commandId: "cmd-000002" }),
      ),
    /has not started/,
  );
  const started = run(opened().slice(0, 1));
  assert.throws(
    () => applyPaymentEvent(started, ev({ type: "cart_received", cart: [], confidence: 1 })),
    /must be unlocked/,
  );
  assert.throws(
    () =>
      applyPaymentEvent(started, {
        ...ev({ type: "hold_authorized", amount: 1, holdId: "h" }),
        currency: "USD",
      }),
    /in USD, the session in EUR/,
  );
  assert.throws(
    () =>
      applyPaymentEvent(started, {
        ...ev({ type: "hold_authorized", amount: 1, holdId: "h" }),
        sessionId: "pay-other01",
      }),
    /for session pay-other01/,
  );
  // A session fails only once its hold is settled.
  const held = run(opened().slice(0, 2));
  assert.throws(
    () => applyPaymentEvent(held, ev({ type: "failed", reason: "unlock failed" })),
    /release it first/,
  );
  const released = applyPaymentEvent(held, ev({ type: "hold_released", amount: 2000 }));
  assert.equal(
    applyPaymentEvent(released, ev({ type: "failed", reason: "unlock failed" })).state,
    "failed",
  );
});
