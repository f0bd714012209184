import assert from "node:assert/strict";
import { PaymentDeclinedError, ProviderUnavailableError } from "./payment_provider.ts";
import { MemorySandboxStore, parseSandboxFaults, SandboxProvider } from "./sandbox_provider.ts";

const visa = "pm_sandbox_visa";

Deno.test("SandboxProvider captures part of a hold and releases the rest, once", async () => {
  const p = new SandboxProvider(new MemorySandboxStore());
  const hold = await p.authorize({
    paymentMethod: visa,
    amount: 2000,
    currency: "EUR",
    idempotencyKey: "s1:hold",
  });
  assert.equal(hold.amount, 2000);
  const c = await p.capture({ holdId: hold.holdId, amount: 350, idempotencyKey: "s1:capture" });
  assert.deepEqual(c, { holdId: hold.holdId, amount: 350, released: 1650 });
  // The same capture again: the same answer, nothing more taken.
  assert.deepEqual(
    await p.capture({ holdId: hold.holdId, amount: 350, idempotencyKey: "s1:capture" }),
    c,
  );
  // Another capture of the same hold is refused.
  await assert.rejects(
    p.capture({ holdId: hold.holdId, amount: 100, idempotencyKey: "other" }),
    (e) => e instanceof PaymentDeclinedError && /is captured/.test(e.message),
  );
  assert.equal((await p.inspect(hold.holdId)).captured, 350);
});

Deno.test("SandboxProvider refuses a capture above the hold and bad amounts", async () => {
  const p = new SandboxProvider(new MemorySandboxStore());
  const hold = await p.authorize({
    paymentMethod: visa,
    amount: 500,
    currency: "EUR",
    idempotencyKey: "k",
  });
  await assert.rejects(
    p.capture({ holdId: hold.holdId, amount: 501, idempotencyKey: "c" }),
    /Cannot capture 501: the hold is 500/,
  );
  assert.throws(
    () => p.capture({ holdId: hold.holdId, amount: -1, idempotencyKey: "c" }),
    RangeError,
  );
  assert.throws(
    () => p.capture({ holdId: hold.holdId, amount: 1.5, idempotencyKey: "c" }),
    RangeError,
  );
  assert.throws(
    () => p.capture({ holdId: hold.holdId, amount: 0, idempotencyKey: "c" }),
    /cancel the hold/,
  );
  assert.equal((await p.inspect(hold.holdId)).status, "authorized");
});

Deno.test("SandboxProvider declines by payment method, and a repeat is declined the same", async () => {
  const p = new SandboxProvider(new MemorySandboxStore());
  for (
    const [pm, code] of [
      ["pm_sandbox_declined", "card_declined"],
      ["pm_sandbox_insufficient", "insufficient_funds"],
      ["pm_sandbox_expired", "expired_card"],
      ["4242424242424242", "invalid_request"],
    ] as const
  ) {
    for (let i = 0; i < 2; i++) {
      await assert.rejects(
        p.authorize({ paymentMethod: pm, amount: 100, currency: "EUR", idempotencyKey: `h-${pm}` }),
        (e) =>
          e instanceof PaymentDeclinedError && e.code === code && !e.message.includes("4242424242"),
      );
    }
  }
});

Deno.test("SandboxProvider: a timeout after the capture, then a retry with the key, captures once", async () => {
  const p = new SandboxProvider(new MemorySandboxStore(), {
    faults: { capture: { kind: "timeout_after_success" } },
  });
  const hold = await p.authorize({
    paymentMethod: visa,
    amount: 900,
    currency: "EUR",
    idempotencyKey: "h",
  });
  await assert.rejects(
    p.capture({ holdId: hold.holdId, amount: 400, idempotencyKey: "cap" }),
    ProviderUnavailableError,
  );
  assert.equal((await p.inspect(hold.holdId)).status, "captured", "the work was done");
  const c = await p.capture({ holdId: hold.holdId, amount: 400, idempotencyKey: "cap" });
  assert.equal(c.amount, 400);
  assert.equal((await p.inspect(hold.holdId)).captured, 400);
  // Network errors and plain timeouts do nothing.
  p.inject("refund", { kind: "network" });
  await assert.rejects(
    p.refund({ holdId: hold.holdId, amount: 100, idempotencyKey: "r" }),
    ProviderUnavailableError,
  );
  p.inject("refund", { kind: "timeout", times: 1 });
  await assert.rejects(
    p.refund({ holdId: hold.holdId, amount: 100, idempotencyKey: "r" }),
    ProviderUnavailableError,
  );
  assert.equal((await p.inspect(hold.holdId)).refunded, 0);
  await p.refund({ holdId: hold.holdId, amount: 100, idempotencyKey: "r" });
  assert.equal((await p.inspect(hold.holdId)).refunded, 100);
});

Deno.test("SandboxProvider: racing captures of one hold; one key wins once, others are refused", async () => {
  const store = new MemorySandboxStore();
  const a = new SandboxProvider(store);
  const b = new SandboxProvider(store); // a second cloud instance
  const hold = await a.authorize({
    paymentMethod: visa,
    amount: 1000,
    currency: "EUR",
    idempotencyKey: "h",
  });
  const same = await Promise.all([
    a.capture({ holdId: hold.holdId, amount: 600, idempotencyKey: "s:capture" }),
    b.capture({ holdId: hold.holdId, amount: 600, idempotencyKey: "s:capture" }),
  ]);
  assert.deepEqual(same[0], same[1]);
  const hold2 = await a.authorize({
    paymentMethod: visa,
    amount: 1000,
    currency: "EUR",
    idempotencyKey: "h2",
  });
  const results = await Promise.allSettled([
    a.capture({ holdId: hold2.holdId, amount: 600, idempotencyKey: "x" }),
    b.capture({ holdId: hold2.holdId, amount: 700, idempotencyKey: "y" }),
  ]);
  assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
  assert.ok([600, 700].includes((await a.inspect(hold2.holdId)).captured));
});

Deno.test("SandboxProvider keeps holds across a restart, lets them expire, and refunds at most the capture", async () => {
  let now = 1_000_000;
  const store = new MemorySandboxStore();
  const first = new SandboxProvider(store, { holdTtlMs: 60_000, now: () => now });
  const hold = await first.authorize({
    paymentMethod: visa,
    amount: 800,
    currency: "EUR",
    idempotencyKey: "h",
  });
  const old = await first.authorize({
    paymentMethod: visa,
    amount: 800,
    currency: "EUR",
    idempotencyKey: "h-old",
  });
  const restarted = new SandboxProvider(store, { holdTtlMs: 60_000, now: () => now });
  await restarted.capture({ holdId: hold.holdId, amount: 500, idempotencyKey: "c" });
  await restarted.refund({ holdId: hold.holdId, amount: 200, idempotencyKey: "r1" });
  await restarted.refund({ holdId: hold.holdId, amount: 200, idempotencyKey: "r1" }); // a repeat
  await assert.rejects(
    restarted.refund({ holdId: hold.holdId, amount: 301, idempotencyKey: "r2" }),
    /Cannot refund 301: 300 of 500 is left/,
  );
  assert.equal((await restarted.inspect(hold.holdId)).refunded, 200);
  now += 60_001;
  await assert.rejects(
    restarted.capture({ holdId: old.holdId, amount: 100, idempotencyKey: "late" }),
    (e) => e instanceof PaymentDeclinedError && e.code === "hold_expired",
  );
});

Deno.test("parseSandboxFaults reads faults from configuration and names a wrong part", () => {
  assert.deepEqual(parseSandboxFaults("capture:timeout_after_success, authorize:decline*3"), {
    capture: { kind: "timeout_after_success" },
    authorize: { kind: "decline", times: 3 },
  });
  assert.deepEqual(parseSandboxFaults(""), {});
  for (const bad of ["capture", "charge:decline", "capture:explode", "refund:network*0"]) {
    assert.throws(
      () => parseSandboxFaults(`authorize:decline,${bad}`),
      (e) => e instanceof RangeError && e.message.includes(`"${bad}"`),
      bad,
    );
  }
});
