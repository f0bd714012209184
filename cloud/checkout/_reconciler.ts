/**
 * The reconciler: finishes what a crash or an unavailable provider left undone, and settles by
 * policy the reviews nobody did in time.
 *
 * @module
 */
import type { PaymentSession } from "../../payments/mod.ts";
import type { PaymentFlow } from "./_payment_flow.ts";
import { clockOf, type PaymentServiceOptions } from "./_payment_options.ts";
import type { SessionLog, StoredSession } from "./_session_log.ts";
import type { SessionReview } from "./_session_review.ts";

/** What {@link Reconciler} works with. */
export interface ReconcilerParts {
  readonly options: PaymentServiceOptions;
  readonly log: SessionLog;
  readonly flow: PaymentFlow;
  readonly review: SessionReview;
}

/** Options of {@link Reconciler.reconcile}. */
export interface ReconcileOptions {
  /** Sessions changed more recently than this are left alone, ms. Default 30,000. */
  readonly olderThanMs?: number;
  /** A session waiting for its cart this close to its hold's lapse goes to review, ms. Default 24 h. */
  readonly expiryMarginMs?: number;
}

/** Moves on the sessions that stopped on the way. */
export class Reconciler {
  readonly #o: PaymentServiceOptions;
  readonly #log: SessionLog;
  readonly #flow: PaymentFlow;
  readonly #review: SessionReview;
  readonly #now: () => number;

  /** Creates the reconciler over the parts it moves sessions with. */
  constructor(parts: ReconcilerParts) {
    this.#o = parts.options;
    this.#log = parts.log;
    this.#flow = parts.flow;
    this.#review = parts.review;
    this.#now = clockOf(parts.options);
  }

  /**
   * Finishes what a crash or an unavailable provider left undone: a session started but not
   * held, held but not unlocked, or with its cart known but not captured. A session still waiting
   * for its cart when its hold is about to lapse (the machine has been offline for days) goes to
   * review with the reason. Returns how many sessions it moved.
   */
  async reconcile(options: ReconcileOptions = {}): Promise<number> {
    const now = this.#now();
    const cutoff = now - (options.olderThanMs ?? 30_000);
    const margin = options.expiryMarginMs ?? 86_400_000;
    let moved = 0;
    for await (const stored of this.#log.each()) {
      if (stored.session.updatedAt > cutoff) continue;
      const after = await this.#reconcileOne(stored, { now, margin });
      if (after.steps !== stored.session.steps) moved++;
    }
    return moved;
  }

  /** Moves one session on as far as it goes now; returns it as it is after. */
  async #reconcileOne(
    stored: StoredSession,
    at: { readonly now: number; readonly margin: number },
  ): Promise<PaymentSession> {
    const { session: s, holdExpiresAt, lineConfidence } = stored;
    const { now, margin } = at;
    let after = s;
    // One session that cannot be finished now does not stop the others: it is logged, and
    // tried again next round.
    const unmoved = (step: string) => (err: unknown) => {
      this.#o.logger?.log("warn", "payment session not reconciled", {
        sessionId: s.sessionId,
        state: s.state,
        step,
        error: String(err),
      });
      return s;
    };
    if (s.state === "started" || s.state === "held" || s.state === "capturing") {
      after = await this.#flow.drive(s.sessionId).catch(unmoved("drive"));
    } else if (s.state === "review") {
      await this.#log.restoreReviewIndex(s);
    }
    if (s.state === "review" && s.updatedAt < now - this.#review.afterMs()) {
      after = await this.#review.timedOut(s.sessionId, lineConfidence).catch(
        unmoved("review timeout"),
      );
    } else if (s.state === "unlocked" && holdExpiresAt && holdExpiresAt - now < margin) {
      after = await this.#log.advance(s.sessionId, (x) =>
        x.state === "unlocked"
          ? {
            type: "review_required",
            reasons: [
              `no cart from the machine; the hold lapses at ${
                new Date(holdExpiresAt).toISOString()
              }`,
            ],
          }
          : null).catch(unmoved("hold lapsing"));
    }
    return after;
  }
}
