/**
 * The Stripe adapter: holds as PaymentIntents with `capture_method=manual` (confirmed at once with
 * the customer's saved payment method), captures with `amount_to_capture` (Stripe releases the
 * rest), cancels, and refunds against the PaymentIntent. Every request carries the call's
 * idempotency key as Stripe's `Idempotency-Key` header, so a retried call is one call at Stripe.
 * Card errors (HTTP 402) and invalid requests (400) become {@link PaymentDeclinedError}; network
 * errors, timeouts, 429 and 5xx become {@link ProviderUnavailableError} (retry with the same key).
 * Webhooks (Stripe's own events: disputes, holds cancelled at Stripe) are read by
 * `stripe_webhook.ts`.
 *
 * @example
 * ```ts
 * import { StripeProvider } from "./stripe_provider.ts";
 *
 * const stripe = new StripeProvider({ apiKey: "sk_test_123", baseUrl: "https://api.stripe.com" });
 * const hold = await stripe.authorize({
 *   paymentMethod: "pm_card_visa", customer: "cus_123", amount: 2000, currency: "EUR",
 *   idempotencyKey: "s1:hold",
 * });
 * await stripe.capture({ holdId: hold.holdId, amount: 350, idempotencyKey: "s1:capture" });
 * ```
 *
 * @module
 */
import {
  type Capture,
  checkAmount,
  type DeclineCode,
  type Hold,
  PaymentDeclinedError,
  type PaymentProvider,
  ProviderUnavailableError,
  type Refund,
} from "./payment_provider.ts";

/** Options of {@link StripeProvider}. */
export interface StripeProviderOptions {
  /** Secret API key (`sk_...`). */
  readonly apiKey: string;
  /** API base URL. Default `https://api.stripe.com`. */
  readonly baseUrl?: string;
  /** Per-request timeout, ms. Default 10,000. */
  readonly timeoutMs?: number;
  /** The API version header. Default `2024-06-20`. */
  readonly apiVersion?: string;
  /** How long an uncaptured card authorization lasts at Stripe, ms. Default 7 days. */
  readonly holdTtlMs?: number;
  /** `fetch` to use (tests). Default the global one. */
  readonly fetch?: typeof fetch;
}

interface StripeIntent {
  id: string;
  amount: number;
  amount_received?: number;
  currency: string;
  status: string;
  created: number;
}

const DECLINES: Record<string, DeclineCode> = {
  insufficient_funds: "insufficient_funds",
  expired_card: "expired_card",
};

/** The Stripe adapter. */
export class StripeProvider implements PaymentProvider {
  /** Provider name. */
  readonly name = "stripe";
  readonly #o: StripeProviderOptions;

  /** Creates the adapter; throws TypeError for a key that is not a secret key. */
  constructor(options: StripeProviderOptions) {
    if (!/^(sk|rk)_[A-Za-z0-9_]+$/.test(options.apiKey)) {
      throw new TypeError("Invalid Stripe API key: expected a secret key (sk_...)");
    }
    this.#o = options;
  }

  async #post<T>(path: string, form: Record<string, string>, key: string): Promise<T> {
    const url = `${this.#o.baseUrl ?? "https://api.stripe.com"}${path}`;
    let res: Response;
    try {
      res = await (this.#o.fetch ?? fetch)(url, {
        method: "POST",
        headers: {
          authorization: `Bearer ${this.#o.apiKey}`,
          "content-type": "application/x-www-form-urlencoded",
          "idempotency-key": key,
          "stripe-version": this.#o.apiVersion ?? "2024-06-20",
        },
        body: new URLSearchParams(form),
        signal: AbortSignal.timeout(this.#o.timeoutMs ?? 10_000),
      });
    } catch (cause) {
      throw new ProviderUnavailableError(`Stripe ${path}: ${(cause as Error).message}`, { cause });
    }
    const text = await res.text().catch(() => "");
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      // not JSON: judged by the status alone
    }
    if (res.ok) return body as T;
    const error = (body.error ?? {}) as { code?: string; decline_code?: string; message?: string };
    const message = `Stripe ${path}: ${res.status} ${error.message ?? res.statusText}`;
    if (res.status === 429 || res.status >= 500) throw new ProviderUnavailableError(message);
    if (res.status === 402) {
      const code = DECLINES[error.decline_code ?? ""] ?? DECLINES[error.code ?? ""] ??
        "card_declined";
      throw new PaymentDeclinedError(code, message);
    }
    // 409: another request with this key is still running at Stripe; try again.
    if (res.status === 409) throw new ProviderUnavailableError(message);
    throw new PaymentDeclinedError("invalid_request", message);
  }

  /** Creates and confirms a PaymentIntent with manual capture. */
  async authorize(request: Parameters<PaymentProvider["authorize"]>[0]): Promise<Hold> {
    checkAmount(request.amount, "hold amount");
    const intent = await this.#post<StripeIntent>("/v1/payment_intents", {
      amount: String(request.amount),
      currency: request.currency.toLowerCase(),
      payment_method: request.paymentMethod,
      ...(request.customer ? { customer: request.customer } : {}),
      capture_method: "manual",
      confirm: "true",
      off_session: "true",
    }, request.idempotencyKey);
    if (intent.status !== "requires_capture") {
      throw new PaymentDeclinedError(
        "card_declined",
        `Stripe payment intent ${intent.id} is ${intent.status}, not authorized`,
      );
    }
    return {
      holdId: intent.id,
      amount: intent.amount,
      currency: intent.currency.toUpperCase(),
      expiresAt: intent.created * 1000 + (this.#o.holdTtlMs ?? 7 * 86_400_000),
    };
  }

  /** Captures `amount` of the PaymentIntent; Stripe releases the rest. */
  async capture(request: Parameters<PaymentProvider["capture"]>[0]): Promise<Capture> {
    checkAmount(request.amount, "capture amount");
    const intent = await this.#post<StripeIntent>(
      `/v1/payment_intents/${encodeURIComponent(request.holdId)}/capture`,
      { amount_to_capture: String(request.amount) },
      request.idempotencyKey,
    );
    const captured = intent.amount_received ?? request.amount;
    return { holdId: intent.id, amount: captured, released: intent.amount - captured };
  }

  /** Cancels the PaymentIntent, releasing the hold. */
  async cancel(request: Parameters<PaymentProvider["cancel"]>[0]): Promise<void> {
    await this.#post(
      `/v1/payment_intents/${encodeURIComponent(request.holdId)}/cancel`,
      {},
      request.idempotencyKey,
    );
  }

  /** Refunds `amount` of the PaymentIntent. */
  async refund(request: Parameters<PaymentProvider["refund"]>[0]): Promise<Refund> {
    checkAmount(request.amount, "refund amount");
    const refund = await this.#post<{ id: string; amount: number }>("/v1/refunds", {
      payment_intent: request.holdId,
      amount: String(request.amount),
    }, request.idempotencyKey);
    return { refundId: refund.id, holdId: request.holdId, amount: refund.amount };
  }
}
