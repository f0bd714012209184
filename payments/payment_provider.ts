/**
 * The contract every payment provider adapter meets: an authorization hold for a maximum amount,
 * a capture of at most that amount (the rest released), a cancel of the hold, and refunds of what
 * was captured. Every call carries an idempotency key: a call repeated with the same key (a retry
 * after a timeout, a second cloud instance) has the effect of one call and answers the same.
 * Amounts are integers in minor units.
 *
 * @example
 * ```ts
 * import type { PaymentProvider } from "./payment_provider.ts";
 * import { MemorySandboxStore, SandboxProvider } from "./sandbox_provider.ts";
 *
 * const provider: PaymentProvider = new SandboxProvider(new MemorySandboxStore());
 * const hold = await provider.authorize({
 *   paymentMethod: "pm_sandbox_visa", amount: 2000, currency: "EUR", idempotencyKey: "s1:hold",
 * });
 * await provider.capture({ holdId: hold.holdId, amount: 350, idempotencyKey: "s1:capture" });
 * ```
 *
 * @module
 */

/** An authorization hold. */
export interface Hold {
  readonly holdId: string;
  readonly amount: number;
  readonly currency: string;
  /** When the provider lets the hold lapse (Unix ms). */
  readonly expiresAt: number;
}

/** A capture of (part of) a hold. */
export interface Capture {
  readonly holdId: string;
  readonly amount: number;
  /** What the capture released of the hold. */
  readonly released: number;
}

/** A refund of (part of) a capture. */
export interface Refund {
  readonly refundId: string;
  readonly holdId: string;
  readonly amount: number;
}

/** A payment provider: holds, captures, cancels and refunds, each idempotent by key. */
export interface PaymentProvider {
  /** Provider name, e.g. `sandbox` or `stripe`. */
  readonly name: string;
  /** Places a hold of `amount` on a payment method (a provider token, never a card number). */
  authorize(request: {
    readonly paymentMethod: string;
    readonly customer?: string;
    readonly amount: number;
    readonly currency: string;
    readonly idempotencyKey: string;
  }): Promise<Hold>;
  /** Captures `amount` (at most the hold) and releases the rest; `0` is not allowed (cancel). */
  capture(request: {
    readonly holdId: string;
    readonly amount: number;
    readonly idempotencyKey: string;
  }): Promise<Capture>;
  /** Releases the whole hold. */
  cancel(request: { readonly holdId: string; readonly idempotencyKey: string }): Promise<void>;
  /** Refunds `amount` of what was captured. */
  refund(request: {
    readonly holdId: string;
    readonly amount: number;
    readonly idempotencyKey: string;
  }): Promise<Refund>;
}

/**
 * Something that happened at the provider outside our calls, told by its webhook: a customer
 * disputed a charge, or a hold ended there (lapsed, or cancelled in the provider's dashboard).
 * `eventId` is the provider's id of the event (webhooks are delivered at least once).
 */
export type ProviderEvent =
  | {
    readonly type: "dispute_opened";
    readonly eventId: string;
    readonly holdId: string;
    readonly reason: string;
  }
  | {
    readonly type: "hold_canceled";
    readonly eventId: string;
    readonly holdId: string;
    readonly reason: string;
  };

/** What kind of refusal a {@link PaymentDeclinedError} is. */
export type DeclineCode =
  | "card_declined"
  | "insufficient_funds"
  | "expired_card"
  | "hold_expired"
  | "invalid_request";

/** The provider refused the operation; repeating it will not help. */
export class PaymentDeclinedError extends Error {
  /** Why, in the provider's terms. */
  readonly code: DeclineCode;
  /** Creates the error. */
  constructor(code: DeclineCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "PaymentDeclinedError";
    this.code = code;
  }
}

/**
 * The provider could not be reached or did not answer in time: the operation may or may not have
 * happened. Repeat it with the same idempotency key.
 */
export class ProviderUnavailableError extends Error {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ProviderUnavailableError";
  }
}

/** The amount is not an integer number of minor units in 0..max; throws RangeError naming it. */
export function checkAmount(value: number, what: string, max = 100_000_000): number {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new RangeError(
      `Invalid ${what} ${value}: expected an integer amount 0..${max} in minor units`,
    );
  }
  return value;
}
