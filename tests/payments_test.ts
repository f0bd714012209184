/**
 * The payment service on a real nats-server with the sandbox provider (simulated): a session from
 * the start to the receipt, and the faults of issue 9 (a cart delivered twice, two cloud
 * instances on one session, a provider timeout after its success, a decline, a crash between the
 * provider's capture and the state write); in every case one capture of the right amount and a
 * ledger that balances.
 */
import assert from "node:assert/strict";
import { jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { KvSandboxStore, PaymentService, PriceBook } from "../cloud/checkout/mod.ts";
import { ensureStreams } from "../cloud/nats/mod.ts";
import { DEFAULT_CATALOGUE } from "../models/mod.ts";
import { priceList, SandboxProvider } from "../payments/mod.ts";
import { parsePaymentEvent, streamName } from "../protocol/mod.ts";
import type { Logger, LogLevel } from "../runtime/mod.ts";
import { natsEnv, ROOT, startTestNats } from "./harness.ts";
import { sessionCompleted } from "./payments_harness.ts";

const prices = priceList(DEFAULT_CATALOGUE);
const price = (sku: string) => prices.items.get(sku)!.unitPrice;

/** A machine (simulated) that accepts every unlock and records it. */
function machines() {
  const unlocked: string[] = [];
  return {
    unlocked,
    unlocker: {
      unlock(machineId: string, sessionId: string) {
        unlocked.push(`${machineId}/${sessionId}`);
        return Promise.resolve({
          deviceId: `${machineId}-a`,
          commandId: `cmd-${sessionId.slice(4, 20)}`,
        });
      },
    },
  };
}

async function service(
  nc: NatsConnection,
  provider: SandboxProvider,
  unlocker = machines().unlocker,
) {
  return await PaymentService.open(nc, {
    region: "local",
    provider,
    prices: await PriceBook.open(nc, { seed: prices }),
    unlocker,
    retryDelayMs: 10,
  });
}

/** A nats-server with the region's streams, the sandbox provider on it, and a payment service. */
async function fixture() {
  const nats = await startTestNats();
  const nc = await nats.connect();
  await ensureStreams(nc, "local");
  const provider = new SandboxProvider(await KvSandboxStore.open(nc));
  const m = machines();
  const p = await service(nc, provider, m.unlocker);
  return {
    nc,
    provider,
    p,
    m,
    async [Symbol.asyncDispose]() {
      await nc.close();
      await nats[Symbol.asyncDispose]();
    },
  };
}

async function customer(p: PaymentService, token = "pm_sandbox_visa") {
  const c = await p.registerCustomer({ email: "ada@example.com" });
  await p.addPaymentMethod(c.customerId, { token });
  return c.customerId;
}

Deno.test("a payment session holds, unlocks, captures exactly the cart, releases the rest and issues a receipt", async () => {
  await using f = await fixture();
  const { nc, provider, p, m } = f;
  const started = await p.start({ customerId: await customer(p), machineId: "m001" });
  assert.equal(started.state, "unlocked");
  assert.deepEqual(m.unlocked, [`m001/${started.sessionId}`]);
  assert.equal(started.hold!.amount, p.holdAmount);
  const cart = [{ sku: "COLA-330", qty: 2 }, { sku: "GUM-14", qty: 1 }];
  const total = 2 * price("COLA-330") + price("GUM-14");
  const done = await p.cartArrived(sessionCompleted(started.sessionId, cart));
  assert.equal(done!.state, "settled");
  assert.deepEqual([done!.captured, done!.released, done!.receiptTotal], [
    total,
    p.holdAmount - total,
    total,
  ]);
  const hold = await provider.inspect(started.hold!.holdId);
  assert.deepEqual([hold.status, hold.captured], ["captured", total]);
  assert.deepEqual(await p.checkLedger(), []);
  // Every transition is on the PAYMENTS stream, in order.
  const js = jetstream(nc);
  const c = await js.consumers.get(streamName("PAYMENTS", "local"));
  const types: string[] = [];
  const msgs = await c.fetch({ max_messages: 20, expires: 1000 });
  for await (const msg of msgs) {
    const e = parsePaymentEvent(msg.data);
    assert.ok(e.ok);
    types.push(e.value.type);
    msg.ack();
    if (e.value.type === "receipt_issued") break;
  }
  assert.deepEqual(types, [
    "session_started",
    "hold_authorized",
    "unlock_sent",
    "cart_received",
    "captured",
    "hold_released",
    "receipt_issued",
  ]);
  // An empty cart releases the whole hold.
  const empty = await p.start({ customerId: started.customerId, machineId: "m001" });
  const none = await p.cartArrived(sessionCompleted(empty.sessionId, []));
  assert.deepEqual([none!.state, none!.captured, none!.released], ["settled", 0, p.holdAmount]);
  assert.equal((await provider.inspect(empty.hold!.holdId)).status, "canceled");
  assert.deepEqual(await p.checkLedger(), []);
});

Deno.test("a cart delivered twice, to two cloud instances at once, is captured once", async () => {
  await using nats = await startTestNats();
  const nc = await nats.connect();
  const nc2 = await nats.connect();
  await ensureStreams(nc, "local");
  const store = await KvSandboxStore.open(nc);
  const a = await service(nc, new SandboxProvider(store));
  const b = await service(nc2, new SandboxProvider(await KvSandboxStore.open(nc2)));
  const s = await a.start({ customerId: await customer(a), machineId: "m001" });
  const event = sessionCompleted(s.sessionId, [{ sku: "WATER-500", qty: 3 }]);
  const results = await Promise.all([
    a.cartArrived(event),
    b.cartArrived(event),
    a.cartArrived(event),
    b.cartArrived(event),
  ]);
  const final = await a.get(s.sessionId);
  assert.equal(final.state, "settled");
  assert.equal(final.captured, 3 * price("WATER-500"));
  assert.ok(results.every((r) => r!.captured === 0 || r!.captured === final.captured));
  const hold = await new SandboxProvider(store).inspect(s.hold!.holdId);
  assert.equal(hold.captured, 3 * price("WATER-500"));
  // And once more, later: nothing changes.
  const again = await b.cartArrived(event);
  assert.equal(again!.steps, final.steps);
  assert.deepEqual(await a.checkLedger(), []);
  await nc.close();
  await nc2.close();
});

Deno.test("a provider timeout after the capture, then success: one capture; a decline at the hold: nothing held", async () => {
  await using f = await fixture();
  const { provider, p } = f;
  const s = await p.start({ customerId: await customer(p), machineId: "m001" });
  provider.inject("capture", { kind: "timeout_after_success" });
  const done = await p.cartArrived(sessionCompleted(s.sessionId, [{ sku: "CHIPS-50", qty: 1 }]));
  assert.equal(done!.state, "settled");
  assert.equal((await provider.inspect(s.hold!.holdId)).captured, price("CHIPS-50"));

  const declined = await p.start({
    customerId: await customer(p, "pm_sandbox_insufficient"),
    machineId: "m001",
  });
  assert.equal(declined.state, "declined");
  assert.match(declined.failure ?? "", /insufficient_funds/);
  assert.deepEqual(await p.checkLedger(), []);
});

Deno.test("a capture whose answer is lost (the provider timed out after capturing, no retries): the reconciler captures nothing more", async () => {
  await using nats = await startTestNats();
  const nc = await nats.connect();
  await ensureStreams(nc, "local");
  const provider = new SandboxProvider(await KvSandboxStore.open(nc));
  // The instance that "dies": its capture reaches the provider, then the process is gone before
  // the session records it (the provider's answer is lost: a timeout after success, no retries).
  const dying = await PaymentService.open(nc, {
    region: "local",
    provider,
    prices: await PriceBook.open(nc, { seed: prices }),
    unlocker: machines().unlocker,
    attempts: 1,
  });
  const s = await dying.start({ customerId: await customer(dying), machineId: "m001" });
  provider.inject("capture", { kind: "timeout_after_success" });
  await assert.rejects(
    dying.cartArrived(sessionCompleted(s.sessionId, [{ sku: "NUTS-75", qty: 2 }])),
  );
  const interrupted = await dying.get(s.sessionId);
  assert.deepEqual([interrupted.state, interrupted.captured], ["capturing", 0]);
  assert.equal((await provider.inspect(s.hold!.holdId)).captured, 2 * price("NUTS-75"));
  // Another instance's reconciler finishes it with the same idempotency key.
  const survivor = await service(nc, provider);
  assert.equal(await survivor.reconcile({ olderThanMs: 0 }), 1);
  const done = await survivor.get(s.sessionId);
  assert.deepEqual([done.state, done.captured], ["settled", 2 * price("NUTS-75")]);
  assert.equal((await provider.inspect(s.hold!.holdId)).captured, 2 * price("NUTS-75"));
  assert.deepEqual(await survivor.checkLedger(), []);
  await nc.close();
});

Deno.test("an unsure cart, an unknown SKU or a cart above the hold goes to review; the reviewed cart is charged", async () => {
  await using f = await fixture();
  const { provider, p } = f;
  const cust = await customer(p);
  const unsure = await p.start({ customerId: cust, machineId: "m001" });
  const r1 = await p.cartArrived(
    sessionCompleted(
      unsure.sessionId,
      [{ sku: "COLA-330", qty: 1 }],
      { review: ["confidence 0.42 below 0.80"], confidence: 0.42 },
    ),
  );
  assert.equal(r1!.state, "review");
  assert.deepEqual(r1!.reviewReasons, ["confidence 0.42 below 0.80"]);
  assert.equal((await provider.inspect(unsure.hold!.holdId)).status, "authorized");
  const reviewed = await p.review(unsure.sessionId, {
    reviewer: "op@example.com",
    cart: [{ sku: "GUM-14", qty: 2 }],
  });
  assert.deepEqual([reviewed.state, reviewed.captured], ["settled", 2 * price("GUM-14")]);

  const unknown = await p.start({ customerId: cust, machineId: "m001" });
  const r2 = await p.cartArrived(
    sessionCompleted(unknown.sessionId, [{ sku: "CAVIAR-1", qty: 1 }]),
  );
  assert.equal(r2!.state, "review");
  assert.match(r2!.reviewReasons[0]!, /Unknown SKU "CAVIAR-1"/);
  await assert.rejects(
    p.review(unknown.sessionId, { reviewer: "op", cart: [{ sku: "CAVIAR-1", qty: 1 }] }),
    /Unknown SKU "CAVIAR-1"/,
  );
  const above = await p.start({ customerId: cust, machineId: "m001" });
  const r3 = await p.cartArrived(
    sessionCompleted(above.sessionId, [{ sku: "COLA-330", qty: 1000 }]),
  );
  assert.equal(r3!.state, "review");
  assert.match(r3!.reviewReasons[0]!, /above the hold of 5000/);
  assert.deepEqual(await p.checkLedger(), []);
});

Deno.test("refunds: per item or whole, never above the capture; bad input changes nothing", async () => {
  await using f = await fixture();
  const { provider, p } = f;
  const s = await p.start({ customerId: await customer(p), machineId: "m001" });
  await p.cartArrived(sessionCompleted(s.sessionId, [{ sku: "COLA-330", qty: 2 }]));
  const one = await p.refund(s.sessionId, {
    amount: price("COLA-330"),
    sku: "COLA-330",
    requestId: "r1",
  });
  const again = await p.refund(s.sessionId, {
    amount: price("COLA-330"),
    sku: "COLA-330",
    requestId: "r1",
  });
  assert.equal(one.refunded, price("COLA-330"));
  assert.equal(again.refunded, price("COLA-330"), "a retried refund request is one refund");
  await assert.rejects(
    p.refund(s.sessionId, { amount: price("COLA-330") + 1, requestId: "r2" }),
    /Cannot refund \d+: \d+ of \d+ is left/,
  );
  await assert.rejects(p.refund(s.sessionId, { amount: -5, requestId: "r3" }), RangeError);
  await assert.rejects(
    p.refund("pay-nonexistent-1", { amount: 1, requestId: "r4" }),
    /No session pay-nonexistent-1/,
  );
  await assert.rejects(
    p.addPaymentMethod(s.customerId, { token: "4242 4242 4242 4242" }),
    (e) => e instanceof TypeError && !e.message.includes("4242"),
  );
  assert.equal((await provider.inspect(s.hold!.holdId)).refunded, price("COLA-330"));
  assert.deepEqual(await p.checkLedger(), []);
});

Deno.test("a cart that arrives hours later (the device was offline) is charged; after the hold lapsed, nothing is", async () => {
  await using nats = await startTestNats();
  const nc = await nats.connect();
  await ensureStreams(nc, "local");
  let now = Date.now();
  const clock = () => now;
  const provider = new SandboxProvider(await KvSandboxStore.open(nc), {
    holdTtlMs: 7 * 86_400_000,
    now: clock,
  });
  const p = await PaymentService.open(nc, {
    region: "local",
    provider,
    prices: await PriceBook.open(nc, { seed: prices }),
    unlocker: machines().unlocker,
    now: clock,
  });
  const cust = await customer(p);
  const late = await p.start({ customerId: cust, machineId: "m001" });
  const lapsed = await p.start({ customerId: cust, machineId: "m001" });
  const waiting = await p.start({ customerId: cust, machineId: "m001" });
  // Three hours offline: the outbox delivers the cart, which is charged as usual.
  now += 3 * 3_600_000;
  const s1 = await p.cartArrived(sessionCompleted(late.sessionId, [{ sku: "TEA-500", qty: 1 }]));
  assert.deepEqual([s1!.state, s1!.captured], ["settled", price("TEA-500")]);
  // Six and a half days without a cart: the reconciler sends the session to review before the
  // hold lapses (the cart of `waiting` never comes).
  now += 6.5 * 86_400_000 - 3 * 3_600_000;
  assert.equal(await p.reconcile(), 2);
  assert.equal((await p.get(waiting.sessionId)).state, "review");
  assert.match(
    (await p.get(waiting.sessionId)).reviewReasons[0]!,
    /no cart from the machine; the hold lapses at/,
  );
  // Eight days: a cart for a lapsed hold cannot be charged; the session fails with the reason.
  now += 1.5 * 86_400_000;
  const lapsedNow = await p.get(lapsed.sessionId);
  assert.equal(lapsedNow.state, "review", "it went to review with the others");
  const reviewed = await p.review(lapsed.sessionId, {
    reviewer: "op",
    cart: [{ sku: "TEA-500", qty: 1 }],
  });
  assert.equal(reviewed.state, "failed");
  assert.match(reviewed.failure ?? "", /hold_expired/);
  assert.equal(reviewed.captured, 0);
  assert.deepEqual(await p.checkLedger(), []);
  await nc.close();
});

Deno.test("./vend ledger check passes right books and names what is wrong in others", async () => {
  await using nats = await startTestNats();
  const nc = await nats.connect();
  await ensureStreams(nc, "local");
  const p = await service(nc, new SandboxProvider(await KvSandboxStore.open(nc)));
  const s = await p.start({ customerId: await customer(p), machineId: "m001" });
  await p.cartArrived(sessionCompleted(s.sessionId, [{ sku: "COLA-330", qty: 1 }]));
  const check = async () => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--frozen", `${ROOT}cli/ledger.ts`, "check"],
      env: natsEnv(nats),
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!;
    return { code: out.code, json: JSON.parse(text), stderr: new TextDecoder().decode(out.stderr) };
  };
  const good = await check();
  assert.equal(good.code, 0, good.stderr);
  assert.deepEqual([good.json.ok, good.json.sessions, good.json.transactions], [true, 1, 3]);
  // A capture that went to the merchant twice (written by hand: what a double charge would be).
  const kv = await new Kvm(nc).open("ledger_local");
  const capture = (await kv.get(`${s.sessionId}.capture`))!.json<{ postings: unknown[] }>();
  await kv.put(
    `${s.sessionId}.capture-again`,
    JSON.stringify({ ...capture, id: `${s.sessionId}.capture-again` }),
  );
  const bad = await check();
  assert.equal(bad.code, 1);
  assert.equal(bad.json.ok, false);
  assert.match(
    bad.stderr,
    new RegExp(
      `ledger: session ${s.sessionId} \\(settled\\) holds -\\d+ in the ledger, expected 0`,
    ),
  );
  assert.match(bad.stderr, /captured \d+, the ledger says \d+/);
  await nc.close();
});

Deno.test("a review not done in time captures the lines the machine was sure of and releases the rest", async () => {
  await using nats = await startTestNats();
  const nc = await nats.connect();
  await ensureStreams(nc, "local");
  let now = Date.now();
  const provider = new SandboxProvider(await KvSandboxStore.open(nc), { now: () => now });
  const p = await PaymentService.open(nc, {
    region: "local",
    provider,
    prices: await PriceBook.open(nc, { seed: prices }),
    unlocker: machines().unlocker,
    now: () => now,
    reviewTimeout: { afterMs: 3_600_000, sureAbove: 0.95 },
  });
  const s = await p.start({ customerId: await customer(p), machineId: "m001" });
  const event = {
    ...sessionCompleted(
      s.sessionId,
      [{ sku: "COLA-330", qty: 1 }, { sku: "GUM-14", qty: 2 }],
      { review: ["confidence 0.55 below 0.80"], confidence: 0.55 },
    ),
    lineConfidence: { "COLA-330": 0.99, "GUM-14": 0.56 },
  };
  assert.equal((await p.cartArrived(event))!.state, "review");
  now += 30 * 60_000;
  assert.equal(await p.reconcile(), 0, "not yet: the reviewers have an hour");
  now += 31 * 60_000;
  assert.equal(await p.reconcile(), 1);
  const done = await p.get(s.sessionId);
  assert.deepEqual([done.state, done.captured, done.reviewer], [
    "settled",
    price("COLA-330"),
    "policy:charge_sure_items",
  ]);
  assert.deepEqual(done.cart, [{ sku: "COLA-330", qty: 1 }]);
  assert.equal(done.released, p.holdAmount - price("COLA-330"));
  assert.deepEqual(await p.checkLedger(), []);
  await nc.close();
});

/** A logger that keeps what it is told. */
function memoryLogger() {
  const lines: Array<{ level: LogLevel; msg: string; fields: Record<string, unknown> }> = [];
  const logger: Logger = {
    log: (level, msg, fields = {}) => void lines.push({ level, msg, fields }),
  };
  return { lines, logger };
}

Deno.test("the reconciler logs a session it cannot finish and goes on with the others", async () => {
  await using nats = await startTestNats();
  const nc = await nats.connect();
  await ensureStreams(nc, "local");
  const provider = new SandboxProvider(await KvSandboxStore.open(nc));
  const { lines, logger } = memoryLogger();
  const p = await PaymentService.open(nc, {
    region: "local",
    provider,
    prices: await PriceBook.open(nc, { seed: prices }),
    unlocker: machines().unlocker,
    attempts: 1,
    logger,
  });
  // Two sessions the provider was unavailable for at their start: both are left "started".
  const ids: string[] = [];
  for (const machineId of ["m001", "m002"]) {
    provider.inject("authorize", { kind: "network" });
    const customerId = await customer(p);
    await assert.rejects(p.start({ customerId, machineId }));
    ids.push((await p.sessionsOf(customerId))[0]!.sessionId);
  }
  // Still unavailable for the first one the reconciler tries: that one is logged, the other held.
  provider.inject("authorize", { kind: "network" });
  assert.equal(await p.reconcile({ olderThanMs: 0 }), 1);
  const states = await Promise.all(ids.map(async (id) => (await p.get(id)).state));
  assert.deepEqual(states.toSorted(), ["started", "unlocked"]);
  const stuck = ids[states.indexOf("started")]!;
  const logged = lines.filter((l) => l.msg === "payment session not reconciled");
  assert.deepEqual(logged.map((l) => [l.level, l.fields.sessionId, l.fields.step]), [[
    "warn",
    stuck,
    "drive",
  ]]);
  assert.match(String(logged[0]!.fields.error), /connection reset/);
  // The next round finishes it.
  assert.equal(await p.reconcile({ olderThanMs: 0 }), 1);
  assert.equal((await p.get(stuck)).state, "unlocked");
  assert.deepEqual(await p.checkLedger(), []);
  await nc.close();
});

Deno.test("a machine that does not unlock fails the session, and the log says why", async () => {
  await using nats = await startTestNats();
  const nc = await nats.connect();
  await ensureStreams(nc, "local");
  const { lines, logger } = memoryLogger();
  const p = await PaymentService.open(nc, {
    region: "local",
    provider: new SandboxProvider(await KvSandboxStore.open(nc)),
    prices: await PriceBook.open(nc, { seed: prices }),
    unlocker: { unlock: () => Promise.reject(new Error("the door's lock did not answer")) },
    logger,
  });
  const s = await p.start({ customerId: await customer(p), machineId: "m001" });
  assert.equal(s.state, "failed");
  const logged = lines.filter((l) => l.msg.startsWith("the machine did not unlock"));
  assert.deepEqual(logged.map((l) => [l.level, l.fields.sessionId, l.fields.machineId]), [[
    "warn",
    s.sessionId,
    "m001",
  ]]);
  assert.match(String(logged[0]!.fields.error), /lock did not answer/);
  assert.deepEqual(await p.checkLedger(), []);
  await nc.close();
});
