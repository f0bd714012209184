/**
 * Review: a reviewer's cart for a session the machine or the service was unsure of, and the
 * policy that settles a review nobody did in time.
 *
 * @module
 */
import type { PaymentSession } from "../../payments/mod.ts";
import { PaymentConflictError } from "./_payment_errors.ts";
import { cartProblems, type PaymentFlow } from "./_payment_flow.ts";
import type { PaymentServiceOptions } from "./_payment_options.ts";
import type { SessionLog } from "./_session_log.ts";

/** What {@link SessionReview} works with. */
export interface SessionReviewParts {
  readonly options: PaymentServiceOptions;
  readonly log: SessionLog;
  readonly flow: PaymentFlow;
}

/** Completes reviews, by a reviewer or, once timed out, by policy. */
export class SessionReview {
  readonly #o: PaymentServiceOptions;
  readonly #log: SessionLog;
  readonly #flow: PaymentFlow;

  /** Creates the review over the session log and the flow that settles a reviewed session. */
  constructor(parts: SessionReviewParts) {
    this.#o = parts.options;
    this.#log = parts.log;
    this.#flow = parts.flow;
  }

  /** How long a session may wait in review before the policy settles it, ms. */
  afterMs(): number {
    return this.#o.reviewTimeout?.afterMs ?? 86_400_000;
  }

  /** Settles a review nobody did in time, by the configured policy. */
  async timedOut(
    sessionId: string,
    lineConfidence: Readonly<Record<string, number>> | undefined,
  ): Promise<PaymentSession> {
    const s = await this.#log.get(sessionId);
    const policy = this.#o.reviewTimeout?.policy ?? "charge_sure_items";
    const sureAbove = this.#o.reviewTimeout?.sureAbove ?? 0.95;
    const prices = await this.#flow.pricesOf(s);
    const sure = policy === "release"
      ? []
      : (s.deviceCart ?? []).filter((l) =>
        (lineConfidence?.[l.sku] ?? 0) >= sureAbove && prices.items.has(l.sku)
      );
    // The sure items alone may still be above the hold: then nothing is charged.
    const cart = cartProblems(sure, { hold: s.hold!.amount, prices }).length ? [] : sure;
    return await this.review(sessionId, {
      reviewer: `policy:${policy}`,
      cart: cart.map((l) => ({ sku: l.sku, qty: l.qty })),
    });
  }

  /** A reviewer's cart for a session in review (approving is sending the device's cart). */
  async review(
    sessionId: string,
    input: { readonly reviewer: string; readonly cart: readonly { sku: string; qty: number }[] },
  ): Promise<PaymentSession> {
    const s = await this.#log.get(sessionId);
    if (s.state !== "review") {
      throw new PaymentConflictError(`Session ${sessionId} is ${s.state}, not in review`);
    }
    const problems = cartProblems(input.cart, {
      hold: s.hold!.amount,
      prices: await this.#flow.pricesOf(s),
    });
    if (problems.length > 0) {
      throw new RangeError(`Cannot charge the reviewed cart: ${problems[0]}`);
    }
    await this.#log.advance(sessionId, (x) =>
      x.state === "review"
        ? {
          type: "review_completed",
          reviewer: input.reviewer.slice(0, 200),
          cart: input.cart.map((l) => ({ sku: l.sku, qty: l.qty })),
        }
        : null);
    return await this.#flow.settle(sessionId);
  }
}
