/**
 * Field accuracy on a real nats-server with the sandbox provider (simulated): the payment
 * service's consumer counts each session once per machine and model version (charged without
 * review, sent to review by reason, corrected, disputed, upheld), a redelivered event counts
 * nothing, and a machine whose review rate rises above the threshold raises an alert that clears
 * when it falls back.
 */
import assert from "node:assert/strict";
import type { NatsConnection } from "@nats-io/nats-core";
import {
  type AccuracyCounts,
  KvSandboxStore,
  PaymentService,
  PriceBook,
} from "../cloud/checkout/mod.ts";
import { ensureStreams, openKv } from "../cloud/nats/mod.ts";
import { DEFAULT_CATALOGUE } from "../models/mod.ts";
import { priceList, SandboxProvider } from "../payments/mod.ts";
import { buckets, parseAlert, subjects } from "../protocol/mod.ts";
import { eventually } from "./edge_harness.ts";
import { startTestNats } from "./harness.ts";
import { sessionCompleted } from "./payments_harness.ts";

async function fixture() {
  const nats = await startTestNats();
  const nc = await nats.connect();
  await ensureStreams(nc, "local");
  const p = await PaymentService.open(nc, {
    region: "local",
    provider: new SandboxProvider(await KvSandboxStore.open(nc)),
    prices: await PriceBook.open(nc, { seed: priceList(DEFAULT_CATALOGUE) }),
    unlocker: {
      unlock: (machineId: string, sessionId: string) =>
        Promise.resolve({ deviceId: `${machineId}-a`, commandId: `cmd-${sessionId.slice(4, 20)}` }),
    },
    retryDelayMs: 10,
    reviewRateAlert: { threshold: 0.5, minSessions: 3 },
  });
  const stop = new AbortController();
  const running = p.run(stop.signal);
  const c = await p.registerCustomer({ email: "ada@example.com" });
  await p.addPaymentMethod(c.customerId, { token: "pm_sandbox_visa" });
  return {
    nc,
    p,
    customerId: c.customerId,
    async [Symbol.asyncDispose]() {
      stop.abort();
      await running;
      await nc.close();
      await nats[Symbol.asyncDispose]();
    },
  };
}

const COLA = [{ sku: "COLA-330", qty: 1 }];

async function alertRaised(nc: NatsConnection): Promise<boolean> {
  const alerts = await openKv(nc, buckets.alerts, { history: 1 });
  return (await alerts.get("review_rate.m001-a"))?.operation === "PUT";
}

Deno.test("field accuracy counts each session once per machine and model: charged, reviewed by reason, corrected, disputed, upheld", async () => {
  await using f = await fixture();
  const { p, customerId } = f;
  const start = () => p.start({ customerId, machineId: "m001" });
  // Charged without review, then disputed and refunded (the dispute upheld).
  const a = await start();
  await p.cartArrived(sessionCompleted(a.sessionId, COLA));
  await p.dispute(a.sessionId, { reason: "I took nothing" });
  await p.refund(a.sessionId, { amount: 150, requestId: "refund-a-1" });
  // Sent to review, and the reviewer changes the cart (corrected).
  const b = await start();
  await p.cartArrived(
    sessionCompleted(b.sessionId, COLA, {
      review: ["confidence 0.41 below 0.80"],
      confidence: 0.41,
    }),
  );
  await p.review(b.sessionId, { reviewer: "op", cart: [{ sku: "WATER-500", qty: 1 }] });
  // Sent to review and approved as the device decided (not corrected).
  const c = await start();
  await p.cartArrived(
    sessionCompleted(c.sessionId, COLA, {
      review: ["confidence 0.62 below 0.80"],
      confidence: 0.62,
    }),
  );
  await p.review(c.sessionId, { reviewer: "op", cart: COLA });
  // Another model version at the same machine.
  const d = await start();
  await p.cartArrived(sessionCompleted(d.sessionId, COLA, { modelVersion: "1.1.0" }));

  const want: Record<string, Partial<AccuracyCounts>> = {
    "1.0.0": {
      sessions: 3,
      chargedWithoutReview: 1,
      review: 2,
      reasons: { "confidence # below #": 2 },
      corrected: 1,
      disputes: 1,
      disputesUpheld: 1,
    },
    "1.1.0": { sessions: 1, chargedWithoutReview: 1, review: 0, corrected: 0, disputes: 0 },
  };
  const report = await eventually(
    async () => {
      const r = await p.accuracy.machine("m001", { hours: 2 });
      for (const [version, counts] of Object.entries(want)) {
        for (const [k, v] of Object.entries(counts)) {
          assert.deepEqual(r.byModel[version]?.[k as keyof AccuracyCounts], v, `${version} ${k}`);
        }
      }
      return r;
    },
    20_000,
    "the counts",
  );
  assert.equal(report.totals.sessions, 4);
  assert.deepEqual(Object.keys(report.byMachine), ["m001"]);
  assert.ok(report.hours.every((h) => h.machineId === "m001"));
  const fleet = await p.accuracy.fleet({ hours: 2, modelVersion: "1.1.0" });
  assert.deepEqual(Object.keys(fleet.byModel), ["1.1.0"]);
  assert.equal(fleet.totals.sessions, 1);
  assert.equal((await p.accuracy.machine("m002")).totals.sessions, 0);

  // A redelivered event (its step counted already) changes nothing.
  const session = await p.get(b.sessionId);
  const again = await p.accuracy.record({
    v: 1,
    id: "redelivered-review",
    ts: Date.now(),
    type: "review_required",
    sessionId: b.sessionId,
    machineId: "m001",
    currency: "EUR",
    reasons: ["confidence 0.41 below 0.80"],
  }, session);
  assert.equal(again, false);
  const after = await p.accuracy.machine("m001", { hours: 2 });
  assert.equal(after.byModel["1.0.0"]?.review, 2);
  await assert.rejects(() => p.accuracy.machine("m001", { hours: 0 }), /Invalid hours 0/);
});

Deno.test("a machine whose review rate rises above the threshold raises a review_rate alert, cleared when it falls back", async () => {
  await using f = await fixture();
  const { p, nc, customerId } = f;
  const events: string[] = [];
  const sub = nc.subscribe(subjects.alert("local", "review_rate"), {
    callback: (_e, m) => {
      const a = parseAlert(m.data);
      if (a.ok && a.value.kind === "review_rate") {
        events.push(`${a.value.state} ${a.value.deviceId}`);
      }
    },
  });
  const session = async (review: boolean) => {
    const s = await p.start({ customerId, machineId: "m001" });
    await p.cartArrived(
      sessionCompleted(s.sessionId, COLA, review ? { review: ["the door was open too long"] } : {}),
    );
    return s.sessionId;
  };
  await session(true);
  await session(true);
  // Two sessions: below minSessions (3), nothing said yet, whatever the rate.
  await eventually(
    async () => {
      assert.equal((await p.accuracy.machine("m001")).totals.sessions, 2);
      return true;
    },
    20_000,
    "two sessions counted",
  );
  assert.equal(await alertRaised(nc), false);
  await session(false); // 2 of 3 reviewed: above 0.5
  await eventually(async () => (await alertRaised(nc)) || undefined, 20_000, "the alert");
  await session(false);
  await session(false); // 2 of 5: at or under 0.5
  await eventually(async () => !(await alertRaised(nc)) || undefined, 20_000, "the alert cleared");
  await eventually(() => events.length >= 2 || undefined, 20_000, "both alert events");
  assert.deepEqual(events, ["raised m001-a", "cleared m001-a"]);
  sub.unsubscribe();
});
