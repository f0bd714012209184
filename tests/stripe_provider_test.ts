/**
 * The Stripe adapter against a local HTTP server that replays Stripe's documented request and
 * response shapes (a simulated Stripe: PaymentIntents with manual capture, captures with
 * `amount_to_capture`, cancels, refunds, card errors as HTTP 402, idempotent replays by
 * `Idempotency-Key`), and Stripe's webhook into the cloud service (signed events: a dispute, a
 * hold cancelled at Stripe).
 */
import assert from "node:assert/strict";
import { jetstream } from "@nats-io/jetstream";
import { startCloudService } from "../cloud/mod.ts";
import {
  PaymentDeclinedError,
  ProviderUnavailableError,
  StripeProvider,
  stripeSignature,
} from "../payments/mod.ts";
import { pipelineEvent } from "../protocol/mod.ts";
import { eventually } from "./edge_harness.ts";
import { apiClient, startTestNats } from "./harness.ts";
import { paymentEvents, sessionCompleted, simulatedMachine } from "./payments_harness.ts";

interface Intent {
  id: string;
  object: "payment_intent";
  amount: number;
  amount_capturable: number;
  amount_received: number;
  currency: string;
  status: string;
  capture_method: string;
  created: number;
}

/** A simulated Stripe API: what the adapter sends is checked, answers are Stripe's shapes. */
function simulatedStripe() {
  const intents = new Map<string, Intent>();
  const replays = new Map<string, { status: number; body: string }>();
  const requests: Array<{ path: string; form: Record<string, string>; key: string | null }> = [];
  let failNext = 0;
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, async (req) => {
    const path = new URL(req.url).pathname;
    assert.equal(req.headers.get("authorization"), "Bearer sk_test_vend");
    assert.equal(req.headers.get("content-type"), "application/x-www-form-urlencoded");
    const key = req.headers.get("idempotency-key");
    const form = Object.fromEntries(new URLSearchParams(await req.text()));
    requests.push({ path, form, key });
    if (failNext > 0) {
      failNext--;
      return new Response('{"error":{"type":"api_error","message":"An error occurred"}}', {
        status: 500,
      });
    }
    if (key && replays.has(key)) {
      const r = replays.get(key)!;
      return new Response(r.body, { status: r.status, headers: { "idempotent-replayed": "true" } });
    }
    const reply = (status: number, body: unknown) => {
      const text = JSON.stringify(body);
      if (key) replays.set(key, { status, body: text });
      return new Response(text, { status, headers: { "content-type": "application/json" } });
    };
    const cardError = (decline: string) =>
      reply(402, {
        error: {
          type: "card_error",
          code: "card_declined",
          decline_code: decline,
          message: "Your card was declined.",
        },
      });
    let m: RegExpMatchArray | null;
    if (path === "/v1/payment_intents") {
      assert.equal(form.capture_method, "manual");
      assert.equal(form.confirm, "true");
      if (form.payment_method === "pm_card_chargeDeclinedInsufficientFunds") {
        return cardError("insufficient_funds");
      }
      if (form.payment_method === "pm_card_chargeDeclined") return cardError("generic_decline");
      const intent: Intent = {
        id: `pi_${intents.size + 1}`,
        object: "payment_intent",
        amount: Number(form.amount),
        amount_capturable: Number(form.amount),
        amount_received: 0,
        currency: form.currency!,
        status: "requires_capture",
        capture_method: "manual",
        created: 1_700_000_000,
      };
      intents.set(intent.id, intent);
      return reply(200, intent);
    }
    if ((m = path.match(/^\/v1\/payment_intents\/([^/]+)\/capture$/))) {
      const intent = intents.get(m[1]!);
      if (!intent) {
        return reply(404, {
          error: { type: "invalid_request_error", message: "No such payment_intent" },
        });
      }
      const amount = Number(form.amount_to_capture ?? intent.amount);
      if (intent.status !== "requires_capture" || amount > intent.amount_capturable) {
        return reply(400, {
          error: {
            type: "invalid_request_error",
            code: "payment_intent_unexpected_state",
            message: "This PaymentIntent could not be captured.",
          },
        });
      }
      Object.assign(intent, { status: "succeeded", amount_received: amount, amount_capturable: 0 });
      return reply(200, intent);
    }
    if ((m = path.match(/^\/v1\/payment_intents\/([^/]+)\/cancel$/))) {
      const intent = intents.get(m[1]!)!;
      Object.assign(intent, { status: "canceled", amount_capturable: 0 });
      return reply(200, intent);
    }
    if (path === "/v1/refunds") {
      const intent = intents.get(form.payment_intent!)!;
      return reply(200, {
        id: `re_${requests.length}`,
        object: "refund",
        amount: Number(form.amount),
        payment_intent: intent.id,
        status: "succeeded",
      });
    }
    return reply(404, {
      error: { type: "invalid_request_error", message: `Unrecognized request URL (POST: ${path})` },
    });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    intents,
    requests,
    failOnce: () => void (failNext = 1),
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

Deno.test("StripeProvider holds with manual capture, captures part, refunds, with idempotency keys", async () => {
  await using stripe = simulatedStripe();
  const p = new StripeProvider({ apiKey: "sk_test_vend", baseUrl: stripe.url });
  const hold = await p.authorize({
    paymentMethod: "pm_card_visa",
    customer: "cus_1",
    amount: 2000,
    currency: "EUR",
    idempotencyKey: "pay-1:hold",
  });
  assert.equal(hold.holdId, "pi_1");
  assert.equal(hold.currency, "EUR");
  assert.equal(stripe.requests[0]!.form.currency, "eur");
  assert.equal(stripe.requests[0]!.key, "pay-1:hold");
  // A 500 on the capture: unavailable, then the retry with the same key captures once.
  stripe.failOnce();
  await assert.rejects(
    p.capture({ holdId: hold.holdId, amount: 350, idempotencyKey: "pay-1:capture" }),
    ProviderUnavailableError,
  );
  const c = await p.capture({ holdId: hold.holdId, amount: 350, idempotencyKey: "pay-1:capture" });
  assert.deepEqual(c, { holdId: "pi_1", amount: 350, released: 1650 });
  const again = await p.capture({
    holdId: hold.holdId,
    amount: 350,
    idempotencyKey: "pay-1:capture",
  });
  assert.deepEqual(again, c, "a replay answers the same");
  assert.equal(stripe.intents.get("pi_1")!.amount_received, 350);
  assert.equal(stripe.requests.at(-1)!.form.amount_to_capture, "350");
  const r = await p.refund({ holdId: hold.holdId, amount: 100, idempotencyKey: "pay-1:refund-1" });
  assert.equal(r.amount, 100);
  assert.equal(stripe.requests.at(-1)!.form.payment_intent, "pi_1");
});

Deno.test("StripeProvider maps card errors to declines and refuses a second capture", async () => {
  await using stripe = simulatedStripe();
  const p = new StripeProvider({ apiKey: "sk_test_vend", baseUrl: stripe.url });
  await assert.rejects(
    p.authorize({
      paymentMethod: "pm_card_chargeDeclinedInsufficientFunds",
      amount: 500,
      currency: "EUR",
      idempotencyKey: "k1",
    }),
    (e) => e instanceof PaymentDeclinedError && e.code === "insufficient_funds",
  );
  await assert.rejects(
    p.authorize({
      paymentMethod: "pm_card_chargeDeclined",
      amount: 500,
      currency: "EUR",
      idempotencyKey: "k2",
    }),
    (e) => e instanceof PaymentDeclinedError && e.code === "card_declined",
  );
  const hold = await p.authorize({
    paymentMethod: "pm_card_visa",
    amount: 500,
    currency: "EUR",
    idempotencyKey: "k3",
  });
  await p.capture({ holdId: hold.holdId, amount: 500, idempotencyKey: "k3:capture" });
  await assert.rejects(
    p.capture({ holdId: hold.holdId, amount: 500, idempotencyKey: "other" }),
    (e) =>
      e instanceof PaymentDeclinedError && e.code === "invalid_request" &&
      /could not be captured/.test(e.message),
  );
  const unreachable = new StripeProvider({
    apiKey: "sk_test_vend",
    baseUrl: "http://127.0.0.1:9",
    timeoutMs: 2000,
  });
  await assert.rejects(
    unreachable.cancel({ holdId: "pi_x", idempotencyKey: "k4" }),
    ProviderUnavailableError,
  );
  assert.throws(() => new StripeProvider({ apiKey: "pk_live_nope" }), /expected a secret key/);
});

Deno.test({
  name: "Stripe's webhook opens a dispute on a settled session and sends one whose hold was " +
    "cancelled at Stripe to review; a forged or stale one changes nothing",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using stripe = simulatedStripe();
    await using nats = await startTestNats();
    const secret = "whsec_vend_test";
    await using svc = await startCloudService(nats, {
      logger: { log: () => {} },
      payments: {
        provider: new StripeProvider({ apiKey: "sk_test_vend", baseUrl: stripe.url }),
        stripeWebhookSecret: secret,
      },
    });
    const nc = await nats.connect();
    await using machine = await simulatedMachine(nc, { machineId: "m001" });
    const token = await svc.tokens.issue({ subject: "ops", role: "admin" });
    const api = apiClient(svc.url, token);
    const webhook = async (event: unknown, options: { at?: number; secret?: string } = {}) => {
      const payload = JSON.stringify(event);
      const t = Math.floor((options.at ?? Date.now()) / 1000);
      const v1 = await stripeSignature(payload, { secret: options.secret ?? secret, timestamp: t });
      // Stripe's own request: no bearer token, the signature instead.
      const res = await fetch(`${svc.url}/payments/webhooks/stripe`, {
        method: "POST",
        headers: { "content-type": "application/json", "stripe-signature": `t=${t},v1=${v1}` },
        body: payload,
      });
      return { status: res.status, body: await res.json() };
    };
    assert.equal(
      (await api("PUT", "/devices/m001-a", { machineId: "m001", role: "primary", region: "local" }))
        .status,
      201,
    );
    const c = await api("POST", "/customers", { email: "ada@example.com" });
    await api("POST", `/customers/${c.body.customerId}/payment-methods`, { token: "pm_card_visa" });
    const start = () =>
      api("POST", "/payments/sessions", { customerId: c.body.customerId, machineId: "m001" });

    // A settled session, charged through Stripe.
    const s1 = await start();
    assert.equal(s1.body.state, "unlocked", JSON.stringify(s1.body));
    assert.deepEqual(machine.unlocked, [s1.body.sessionId]);
    await jetstream(nc).publish(
      machine.subject,
      pipelineEvent.encode(sessionCompleted(s1.body.sessionId, [{ sku: "COLA-330", qty: 1 }])),
    );
    await eventually(
      async () => {
        const s = await api("GET", `/payments/sessions/${s1.body.sessionId}`);
        return s.body.state === "settled" ? true : undefined;
      },
      10_000,
      "settled",
    );
    const intent = s1.body.hold.holdId as string;
    assert.equal(stripe.intents.get(intent)!.status, "succeeded");

    const dispute = {
      id: "evt_dispute_1",
      object: "event",
      type: "charge.dispute.created",
      data: {
        object: {
          id: "dp_1",
          object: "dispute",
          amount: 150,
          charge: "ch_1",
          payment_intent: intent,
          reason: "product_not_received",
          status: "needs_response",
        },
      },
    };
    // Forged (another secret), stale (10 minutes old) and unsigned: refused, nothing changes.
    const forged = await webhook(dispute, { secret: "whsec_other" });
    assert.equal(forged.status, 400, JSON.stringify(forged.body));
    assert.equal(forged.body.title, "Invalid webhook signature");
    assert.equal((await webhook(dispute, { at: Date.now() - 600_000 })).status, 400);
    const unsigned = await fetch(`${svc.url}/payments/webhooks/stripe`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(dispute),
    });
    assert.equal(unsigned.status, 400);
    await unsigned.body?.cancel();
    assert.equal(
      (await api("GET", `/payments/sessions/${s1.body.sessionId}`)).body.disputed,
      false,
    );
    // Signed: the dispute opens; Stripe delivering it again changes nothing.
    const opened = await webhook(dispute);
    assert.deepEqual(opened, {
      status: 200,
      body: { received: true, handled: true, sessionId: s1.body.sessionId },
    });
    assert.equal((await webhook(dispute)).body.handled, false);
    const disputed = await api("GET", `/payments/sessions/${s1.body.sessionId}`);
    assert.equal(disputed.body.disputed, true);
    assert.equal(disputed.body.dispute.reason, "stripe dispute dp_1: product_not_received");

    // A session waiting for its cart whose hold was cancelled at Stripe goes to review.
    const s2 = await start();
    const cancelled = await webhook({
      id: "evt_cancel_1",
      object: "event",
      type: "payment_intent.canceled",
      data: {
        object: {
          id: s2.body.hold.holdId,
          object: "payment_intent",
          cancellation_reason: "automatic",
        },
      },
    });
    assert.equal(cancelled.body.handled, true);
    const review = await api("GET", `/payments/sessions/${s2.body.sessionId}`);
    assert.equal(review.body.state, "review");
    assert.deepEqual(review.body.reviewReasons, ["the hold was cancelled at Stripe (automatic)"]);
    // Events about what this system did not do, or does not act on, are received and ignored.
    assert.deepEqual(
      (await webhook({
        id: "evt_other",
        type: "charge.dispute.created",
        data: { object: { id: "dp_9", payment_intent: "pi_unknown", reason: "fraudulent" } },
      })).body,
      { received: true, handled: false, sessionId: null },
    );
    assert.equal(
      (await webhook({ id: "evt_x", type: "customer.created", data: { object: {} } })).body.handled,
      false,
    );
    // The PAYMENTS stream has one dispute for the session.
    const events = await paymentEvents(nc, s1.body.sessionId);
    assert.equal(events.filter((e) => e.type === "disputed").length, 1);
  },
});
