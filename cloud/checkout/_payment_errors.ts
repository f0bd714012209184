/**
 * The payment service's errors: no such session, customer or payment method; prices other than
 * those shown; a request the session's state cannot honour.
 *
 * @module
 */

/** No such session, customer or payment method; `what` names it. */
export class PaymentNotFoundError extends Error {
  /** What was not found, e.g. `session pay-123`. */
  readonly what: string;
  /** Creates the error. */
  constructor(what: string) {
    super(`No ${what}`);
    this.name = "PaymentNotFoundError";
    this.what = what;
  }
}

/** The customer was shown other prices (or another currency) than the machine's now. */
export class PriceMismatchError extends Error {
  /** What differs. */
  readonly field: "currency" | "prices";
  /** Creates the error. */
  constructor(field: "currency" | "prices", message: string) {
    super(message);
    this.name = "PriceMismatchError";
    this.field = field;
  }
}

/** The request cannot be honoured in the session's state (a refund of an unsettled session...). */
export class PaymentConflictError extends Error {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "PaymentConflictError";
  }
}

/** For a read whose "no such session" means "skip it": that is undefined, anything else throws. */
export function notFoundAsUndefined(e: unknown): undefined {
  if (e instanceof PaymentNotFoundError) return undefined;
  throw e;
}
