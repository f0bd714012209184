/**
 * Payments' core (web standards only, no `Deno.*`, no NATS): the payment provider contract and
 * the sandbox provider (simulated, with persisted holds and injectable faults), machine price
 * lists and cart pricing, the payment session state machine, and the double-entry ledger with its
 * check. The cloud wires them to NATS (KV with compare-and-swap, the PAYMENTS stream) and HTTP.
 *
 * @example
 * ```ts
 * import { DEFAULT_CATALOGUE } from "../models/mod.ts";
 * import { MemorySandboxStore, priceCart, priceList, SandboxProvider } from "./mod.ts";
 *
 * const provider = new SandboxProvider(new MemorySandboxStore());
 * const hold = await provider.authorize({
 *   paymentMethod: "pm_sandbox_visa", amount: 2000, currency: "EUR", idempotencyKey: "s1:hold",
 * });
 * const { total } = priceCart([{ sku: "COLA-330", qty: 1 }], priceList(DEFAULT_CATALOGUE));
 * await provider.capture({ holdId: hold.holdId, amount: total, idempotencyKey: "s1:capture" });
 * ```
 *
 * @module
 */
export {
  balances,
  checkLedger,
  holdTransaction,
  type LedgerParties,
  type LedgerTransaction,
  type Posting,
  refundTransaction,
  type SessionBooks,
  settleTransactions,
} from "./ledger.ts";
export {
  type Capture,
  checkAmount,
  type DeclineCode,
  type Hold,
  PaymentDeclinedError,
  type PaymentProvider,
  type ProviderEvent,
  ProviderUnavailableError,
  type Refund,
} from "./payment_provider.ts";
export {
  applyPaymentEvent,
  InvalidTransitionError,
  isFinal,
  type PaymentCartLine,
  type PaymentSession,
  type PaymentState,
  type ReceiptLine,
} from "./payment_session.ts";
export {
  priceCart,
  type PricedLine,
  type PriceList,
  priceList,
  UnknownSkuError,
} from "./price_list.ts";
export { StripeProvider, type StripeProviderOptions } from "./stripe_provider.ts";
export {
  readStripeWebhook,
  stripeSignature,
  type StripeWebhookOptions,
  verifyStripeSignature,
  WebhookSignatureError,
} from "./stripe_webhook.ts";
export {
  MemorySandboxStore,
  parseSandboxFaults,
  type SandboxFault,
  type SandboxOperation,
  SandboxProvider,
  type SandboxProviderOptions,
  type SandboxStore,
} from "./sandbox_provider.ts";
