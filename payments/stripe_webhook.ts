/**
 * Stripe's webhooks: what happened at Stripe outside our calls. {@link verifyStripeSignature}
 * checks the `Stripe-Signature` header (HMAC-SHA256 of `timestamp.body` with the endpoint's
 * secret, within a tolerance) before anything in the body is trusted; {@link readStripeWebhook}
 * verifies and turns the events the payment service acts on into {@link ProviderEvent}s:
 *
 * - `charge.dispute.created`: the customer disputed a charge (`dispute_opened`);
 * - `payment_intent.canceled`: a hold ended at Stripe (it lapsed, or someone cancelled it in
 *   Stripe's dashboard) (`hold_canceled`).
 *
 * Other event types are acknowledged and not acted on (`null`).
 *
 * @example
 * ```ts
 * import { readStripeWebhook } from "./stripe_webhook.ts";
 *
 * const req = new Request("http://x", { method: "POST", body: "{}" });
 * const payload = await req.text();
 * const event = await readStripeWebhook(payload, {
 *   header: req.headers.get("stripe-signature"),
 *   secret: "whsec_123",
 * }).catch((e) => e); // WebhookSignatureError: No Stripe-Signature header
 * ```
 *
 * @module
 */
import type { ProviderEvent } from "./payment_provider.ts";
import { toHex } from "../protocol/mod.ts";

/** A webhook whose signature does not verify; its event must not be used. */
export class WebhookSignatureError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "WebhookSignatureError";
  }
}

const hex = (bytes: ArrayBuffer) => toHex(bytes);

/** The `v1` signature of `payload` at `timestamp` (seconds) with `secret`. */
export async function stripeSignature(
  payload: string,
  options: { readonly secret: string; readonly timestamp: number },
): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(options.secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = await crypto.subtle.sign(
    "HMAC",
    key,
    new TextEncoder().encode(`${options.timestamp}.${payload}`),
  );
  return hex(mac);
}

/** Options of {@link verifyStripeSignature} and {@link readStripeWebhook}. */
export interface StripeWebhookOptions {
  /** The `Stripe-Signature` header. */
  readonly header: string | null;
  /** The endpoint's signing secret (`whsec_...`). */
  readonly secret: string;
  /** Seconds. Default 300. */
  readonly toleranceS?: number;
  /** Unix ms. Default now. */
  readonly now?: number;
}

/**
 * Verifies a `Stripe-Signature` header for the raw `payload`; throws
 * {@link WebhookSignatureError} naming what is wrong (no timestamp, no v1 signature, a
 * signature that does not match, a timestamp outside the tolerance).
 */
export async function verifyStripeSignature(
  payload: string,
  options: StripeWebhookOptions,
): Promise<void> {
  if (!options.header) throw new WebhookSignatureError("No Stripe-Signature header");
  const parts = options.header.split(",").map((p) => p.trim().split("=", 2) as [string, string?]);
  const t = Number(parts.find(([k]) => k === "t")?.[1]);
  const v1 = parts.filter(([k]) => k === "v1").map(([, v]) => v ?? "");
  if (!Number.isInteger(t)) throw new WebhookSignatureError("Stripe-Signature has no timestamp");
  if (v1.length === 0) throw new WebhookSignatureError("Stripe-Signature has no v1 signature");
  const want = await stripeSignature(payload, { secret: options.secret, timestamp: t });
  const same = (a: string, b: string) => {
    if (a.length !== b.length) return false;
    let diff = 0;
    for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
    return diff === 0;
  };
  if (!v1.some((s) => same(s, want))) {
    throw new WebhookSignatureError("Stripe-Signature does not match the payload");
  }
  const age = Math.abs((options.now ?? Date.now()) / 1000 - t);
  if (age > (options.toleranceS ?? 300)) {
    throw new WebhookSignatureError(`Stripe-Signature timestamp is ${Math.round(age)} s old`);
  }
}

const text = (v: unknown, max = 200) => typeof v === "string" && v.length > 0 && v.length <= max;

/**
 * Verifies a webhook and reads its event: the {@link ProviderEvent} the payment service acts on,
 * or `null` for an event type it does not. Throws {@link WebhookSignatureError} for a signature
 * that does not verify and TypeError, naming the field, for a verified body that is not a Stripe
 * event of the expected shape.
 */
export async function readStripeWebhook(
  payload: string,
  options: StripeWebhookOptions,
): Promise<ProviderEvent | null> {
  await verifyStripeSignature(payload, options);
  let event: { id?: unknown; type?: unknown; data?: { object?: Record<string, unknown> } };
  try {
    event = JSON.parse(payload);
  } catch {
    throw new TypeError("Invalid Stripe event: the body is not JSON");
  }
  if (typeof event !== "object" || event === null || !text(event.id) || !text(event.type)) {
    throw new TypeError("Invalid Stripe event: expected an object with id and type");
  }
  const eventId = event.id as string;
  const object = event.data?.object;
  const need = (field: string) => {
    const v = object?.[field];
    if (!text(v)) {
      throw new TypeError(`Invalid Stripe event ${eventId}: data.object.${field} is missing`);
    }
    return v as string;
  };
  switch (event.type) {
    case "charge.dispute.created":
      return {
        type: "dispute_opened",
        eventId,
        holdId: need("payment_intent"),
        reason: `stripe dispute ${need("id")}: ${need("reason")}`,
      };
    case "payment_intent.canceled": {
      const why = object?.cancellation_reason;
      return {
        type: "hold_canceled",
        eventId,
        holdId: need("id"),
        reason: `cancelled at Stripe (${text(why) ? why : "no reason given"})`,
      };
    }
    default:
      return null;
  }
}
