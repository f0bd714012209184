import assert from "node:assert/strict";
import {
  readStripeWebhook,
  stripeSignature,
  verifyStripeSignature,
  WebhookSignatureError,
} from "./stripe_webhook.ts";

const secret = "whsec_test_secret";
const now = 1_700_000_100_000;
const t = 1_700_000_000;

async function signed(body: unknown) {
  const payload = typeof body === "string" ? body : JSON.stringify(body);
  const header = `t=${t},v1=${await stripeSignature(payload, { secret, timestamp: t })}`;
  return await readStripeWebhook(payload, { header, secret, now });
}

Deno.test("verifyStripeSignature accepts Stripe's signature and refuses a forged, stale or missing one", async () => {
  const payload = JSON.stringify({ id: "evt_1", type: "payment_intent.succeeded" });
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

Deno.test("readStripeWebhook reads a dispute and a hold cancelled at Stripe, and nothing else", async () => {
  assert.deepEqual(
    await signed({
      id: "evt_1",
      type: "charge.dispute.created",
      data: {
        object: { id: "dp_1", object: "dispute", payment_intent: "pi_7", reason: "fraudulent" },
      },
    }),
    {
      type: "dispute_opened",
      eventId: "evt_1",
      holdId: "pi_7",
      reason: "stripe dispute dp_1: fraudulent",
    },
  );
  assert.deepEqual(
    await signed({
      id: "evt_2",
      type: "payment_intent.canceled",
      data: { object: { id: "pi_8", object: "payment_intent", cancellation_reason: "automatic" } },
    }),
    {
      type: "hold_canceled",
      eventId: "evt_2",
      holdId: "pi_8",
      reason: "cancelled at Stripe (automatic)",
    },
  );
  assert.equal(
    await signed({ id: "evt_3", type: "customer.created", data: { object: { id: "cus_1" } } }),
    null,
  );
});

Deno.test("readStripeWebhook refuses a signed body that is not a Stripe event, naming the field", async () => {
  await assert.rejects(signed("not json"), /the body is not JSON/);
  await assert.rejects(signed({ type: "charge.dispute.created" }), /with id and type/);
  await assert.rejects(
    signed({ id: "evt_4", type: "charge.dispute.created", data: { object: { id: "dp_2" } } }),
    (e) => e instanceof TypeError && /data\.object\.payment_intent is missing/.test(e.message),
  );
  // An unsigned body is refused before it is read.
  await assert.rejects(
    readStripeWebhook("not json", { header: null, secret, now }),
    WebhookSignatureError,
  );
});
