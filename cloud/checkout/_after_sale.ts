/**
 * After the sale: refunds and disputes of settled sessions, and what the provider's webhooks say
 * happened to a hold. Each refund carries the idempotency key `<sessionId>:refund-<requestId>`, so
 * a retried request is one refund.
 *
 * @module
 */
import { type PaymentSession, type ProviderEvent, refundTransaction } from "../../payments/mod.ts";
import type { PaymentBooks } from "./_payment_books.ts";
import { PaymentConflictError } from "./_payment_errors.ts";
import type { PaymentFlow } from "./_payment_flow.ts";
import type { PaymentServiceOptions } from "./_payment_options.ts";
import type { SessionClips } from "./_session_clips.ts";
import type { SessionLog } from "./_session_log.ts";

/** What {@link AfterSale} works with. */
export interface AfterSaleParts {
  readonly options: PaymentServiceOptions;
  readonly log: SessionLog;
  readonly books: PaymentBooks;
  readonly flow: PaymentFlow;
  readonly clips: SessionClips;
}

/** Refunds, disputes and the provider's own events about holds. */
export class AfterSale {
  readonly #o: PaymentServiceOptions;
  readonly #log: SessionLog;
  readonly #books: PaymentBooks;
  readonly #flow: PaymentFlow;
  readonly #clips: SessionClips;

  /** Creates the after-sale desk over the parts it works with. */
  constructor(parts: AfterSaleParts) {
    this.#o = parts.options;
    this.#log = parts.log;
    this.#books = parts.books;
    this.#flow = parts.flow;
    this.#clips = parts.clips;
  }

  /** Refunds `amount` of a settled session (one refund per call). */
  async refund(
    sessionId: string,
    input: { readonly amount: number; readonly sku?: string | null; readonly requestId: string },
  ): Promise<PaymentSession> {
    if (!Number.isInteger(input.amount) || input.amount < 1) {
      throw new RangeError(`Invalid refund amount ${input.amount}: expected a positive integer`);
    }
    const s = await this.#log.get(sessionId);
    if (s.state !== "settled") {
      throw new PaymentConflictError(
        `Session ${sessionId} is ${s.state}; only a settled one is refunded`,
      );
    }
    if (s.refunded + input.amount > s.captured) {
      throw new RangeError(
        `Cannot refund ${input.amount}: ${s.captured - s.refunded} of ${s.captured} is left`,
      );
    }
    // The request id makes a retried refund request one refund.
    const key = `${sessionId}:refund-${input.requestId}`;
    const r = await this.#flow.call(() =>
      this.#o.provider.refund({ holdId: s.hold!.holdId, amount: input.amount, idempotencyKey: key })
    );
    await this.#books.book(refundTransaction(this.#books.parties(s), input.requestId, r.amount));
    return await this.#log.advance(
      sessionId,
      (_, stored) =>
        stored.refundKeys?.includes(input.requestId)
          ? null
          : { type: "refunded", amount: r.amount, sku: input.sku ?? null },
      (stored) => ({ refundKeys: [...(stored.refundKeys ?? []), input.requestId] }),
    );
  }

  /**
   * Opens a dispute on a settled session, attaching its door session's clips (the SHA-256 of each
   * clip the machine uploaded for the session, at most 12) for whoever reviews it.
   */
  async dispute(sessionId: string, input: { readonly reason: string }): Promise<PaymentSession> {
    const s = await this.#log.get(sessionId);
    if (s.state !== "settled") {
      throw new PaymentConflictError(
        `Session ${sessionId} is ${s.state}; only a settled one is disputed`,
      );
    }
    const clips = (await this.#clips.clips(sessionId)).map((c) => c.sha256);
    return await this.#log.advance(sessionId, (x) =>
      x.disputed ? null : {
        type: "disputed",
        reason: input.reason.slice(0, 200),
        clips: clips.sort().slice(0, 12),
      });
  }

  /**
   * Acts on what the provider's webhook says happened there: a dispute opens the dispute on the
   * settled session (with its clips); a hold that ended at the provider fails a session not yet
   * unlocked and sends one waiting for its cart to review (nothing can be charged on it any
   * more). An event about a hold this system did not place, or one that changes nothing (a
   * repeat, a cancel of our own), returns `undefined`.
   */
  async providerEvent(event: ProviderEvent): Promise<PaymentSession | undefined> {
    const sessionId = await this.#flow.sessionOfHold(event.holdId);
    if (sessionId === undefined) return undefined;
    const s = await this.#log.get(sessionId);
    if (event.type === "dispute_opened") {
      if (s.state !== "settled" || s.disputed) return undefined;
      return await this.dispute(sessionId, { reason: event.reason });
    }
    if (s.state === "held") {
      return await this.#flow.release(sessionId, `the hold was ${event.reason}`);
    }
    if (s.state !== "unlocked") return undefined;
    return await this.#log.advance(
      sessionId,
      (x) =>
        x.state === "unlocked"
          ? { type: "review_required", reasons: [`the hold was ${event.reason}`.slice(0, 200)] }
          : null,
    );
  }
}
