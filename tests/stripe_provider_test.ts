/**
 * The Stripe adapter against a local HTTP server that replays Stripe's documented request and
 * response shapes (a simulated Stripe: PaymentIntents with manual capture, captures with
 * `amount_to_capture`, cancels, refunds, card errors as HTTP 402, idempotent replays by
 * `Idempotency-Key`), and webhook signature verification.
 */
import assert from "node:assert/strict";
import {
  PaymentDeclinedError,
  ProviderUnavailableError,
  StripeProvider,
  stripeSignature,
  verifyStripeSignature,
  WebhookSignatureError,
} from "../payments/mod.ts";

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

Deno.test("verifyStripeSignature accepts Stripe's signature and refuses a forged, stale or missing one", async () => {
  const secret = "whsec_test_secret";
  const payload = JSON.stringify({ id: "evt_1", type: "payment_intent.succeeded" });
  const now = 1_700_000_100_000;
  const t = 1_700_000_000;
  const v1 = await stripeSignature(payload, { secret, timestamp: t });
  assert.match(v1, /^[0-9a-f]{64}$/);
  await verifyStripeSignature(payload, { header: `t=${t},v1=${v1},v0=ignored`, secret, now });
  const refused = (header: string | null, body = payload, at = now) =>
    assert.rejects(verifyStripeSignature(body, { header, secret, now: at }), WebhookSignatureError);
  await refused(`t=${t},v1=${v1}`, payload + " ");
  await refused(`t=${t},v1=${"0".repeat(64)}`);
  await refused(`t=${t}`);
  await refused(`v1=${v1}`);
  await refused(null);
  await refused(`t=${t},v1=${v1}`, payload, now + 301_000);
});
