/**
 * Payment session events: every transition of a customer's session at a machine, from the
 * start through the hold, unlock, cart, capture and receipt, to refunds and disputes.
 * Amounts are integers in minor units of `currency`.
 *
 * @module
 */
import { z } from "zod";
import * as f from "./_fields.ts";
import { defineFamily } from "./message_family.ts";

const base = {
  ...f.envelope,
  sessionId: f.id.describe("Payment session id"),
  machineId: f.machineId,
  currency: f.currency.describe("ISO 4217 currency of every amount in the event"),
};

/** One line of a receipt. */
export const ReceiptLineSchema = z.strictObject({
  sku: f.sku,
  name: f.shortText,
  qty: z.int().min(1),
  unitPrice: f.amount,
  total: f.amount,
}).refine((l) => l.total === l.qty * l.unitPrice, {
  path: ["total"],
  message: "must equal qty * unitPrice",
});

/** Schema of a payment session event; `type` selects the shape. */
export const PaymentEventSchema = z.discriminatedUnion("type", [
  z.strictObject({
    ...base,
    type: z.literal("session_started"),
    customerId: f.id,
    /** The price list revision the session is priced at (none: the service's fixed prices). */
    priceList: z.strictObject({
      id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/),
      revision: z.int().min(1),
    }).optional().describe("The price list revision the session is priced at"),
  }),
  z.strictObject({
    ...base,
    type: z.literal("hold_authorized"),
    amount: f.amount,
    holdId: f.shortText,
  }),
  z.strictObject({ ...base, type: z.literal("hold_declined"), reason: f.shortText }),
  z.strictObject({
    ...base,
    type: z.literal("unlock_sent"),
    deviceId: f.deviceId,
    commandId: f.id,
  }),
  z.strictObject({
    ...base,
    type: z.literal("cart_received"),
    cart: f.cart,
    confidence: f.ratio,
    /** The version of the model that decided the cart (absent in events of older builds). */
    modelVersion: f.version.optional().describe("Version of the model that decided the cart"),
  }),
  z.strictObject({
    ...base,
    type: z.literal("review_required"),
    reasons: z.array(f.shortText).min(1).max(20),
  }),
  z.strictObject({
    ...base,
    type: z.literal("review_completed"),
    reviewer: f.shortText,
    cart: f.cart,
  }),
  z.strictObject({ ...base, type: z.literal("captured"), amount: f.amount, holdAmount: f.amount })
    .refine((e) => e.amount <= e.holdAmount, {
      path: ["amount"],
      message: "must not exceed holdAmount",
    }),
  z.strictObject({ ...base, type: z.literal("hold_released"), amount: f.amount }),
  z.strictObject({
    ...base,
    type: z.literal("receipt_issued"),
    lines: z.array(ReceiptLineSchema).max(200),
    total: f.amount,
  }).refine((e) => e.total === e.lines.reduce((s, l) => s + l.total, 0), {
    path: ["total"],
    message: "must equal the sum of the lines",
  }),
  z.strictObject({
    ...base,
    type: z.literal("refunded"),
    amount: z.int().min(1),
    sku: f.sku.nullable(),
  }),
  z.strictObject({
    ...base,
    type: z.literal("disputed"),
    reason: f.shortText,
    clips: z.array(f.sha256).max(12),
  }),
  z.strictObject({ ...base, type: z.literal("failed"), reason: f.shortText }),
]);

/** A payment session event. */
export type PaymentEvent = z.infer<typeof PaymentEventSchema>;
/** The `type` of a payment session event. */
export type PaymentEventType = PaymentEvent["type"];

/** The payment event family. */
export const paymentEvent = defineFamily<PaymentEvent>("payment event", PaymentEventSchema);

/** Parses a payment session event; never throws. */
export const parsePaymentEvent = paymentEvent.parse;
