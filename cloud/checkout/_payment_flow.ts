/**
 * The flow of a payment session from the customer's start at a machine to its receipt: hold,
 * unlock, the cart from the machine, capture and release, receipt. Each provider call carries an
 * idempotency key derived from the session and the step (`<sessionId>:hold`, `:capture`,
 * `:cancel`), and every step first looks at the session's state, so whatever arrives twice (a
 * cart event redelivered, a retried request, two cloud instances) moves money once. The flow
 * alone writes the `payment_holds` index, which finds a provider's hold's session.
 *
 * @module
 */
import { openKv } from "../nats/mod.ts";
import type { NatsConnection } from "@nats-io/nats-core";
import type { KV } from "@nats-io/kv";
import {
  holdTransaction,
  isFinal,
  PaymentDeclinedError,
  type PaymentSession,
  priceCart,
  type PriceList,
  ProviderUnavailableError,
  settleTransactions,
  UnknownSkuError,
} from "../../payments/mod.ts";
import { buckets, newMessageId, type PipelineEvent, toHex } from "../../protocol/mod.ts";
import { type CustomerRegistry, methodOf } from "./_customer_registry.ts";
import type { PaymentBooks } from "./_payment_books.ts";
import {
  PaymentConflictError,
  PaymentNotFoundError,
  PriceMismatchError,
} from "./_payment_errors.ts";
import { clockOf, type PaymentServiceOptions } from "./_payment_options.ts";
import type { SessionLog } from "./_session_log.ts";
import { sleep } from "../../runtime/mod.ts";

/** What {@link PaymentFlow.open} works with. */
export interface PaymentFlowParts {
  readonly options: PaymentServiceOptions;
  readonly log: SessionLog;
  readonly books: PaymentBooks;
  readonly customers: CustomerRegistry;
}

const encoder = new TextEncoder();

/** What starting a session at a machine takes ({@link PaymentFlow.start}). */
export interface StartRequest {
  readonly customerId: string;
  readonly machineId: string;
  readonly paymentMethodId?: string;
  /** The currency the customer was shown: refused ({@link PriceMismatchError}) if another. */
  readonly currency?: string;
  /** The price list version the customer was shown (`PriceList.version`): likewise. */
  readonly prices?: string;
}

/** Takes payment sessions through their steps: the only caller of hold, unlock and capture. */
export class PaymentFlow {
  readonly #o: PaymentServiceOptions;
  readonly #log: SessionLog;
  readonly #books: PaymentBooks;
  readonly #customers: CustomerRegistry;
  readonly #holds: KV;
  readonly #now: () => number;

  private constructor(parts: PaymentFlowParts, holds: KV) {
    this.#o = parts.options;
    this.#log = parts.log;
    this.#books = parts.books;
    this.#customers = parts.customers;
    this.#holds = holds;
    this.#now = clockOf(parts.options);
  }

  /** Opens the flow (creating the `payment_holds` bucket when missing). */
  static async open(nc: NatsConnection, parts: PaymentFlowParts): Promise<PaymentFlow> {
    return new PaymentFlow(parts, await openKv(nc, buckets.paymentHolds, { history: 1 }));
  }

  /** The hold every session starts with. */
  get holdAmount(): number {
    return this.#o.holdAmount ?? 5000;
  }

  /** What `machineId` sells now, at what price. */
  async pricesFor(machineId: string): Promise<PriceList> {
    return (await this.#o.prices.forMachine(machineId)).list;
  }

  /** The prices `session` is charged at: those of the price list revision of its start. */
  async pricesOf(session: PaymentSession): Promise<PriceList> {
    return session.priceList
      ? await this.#o.prices.at(session.priceList)
      : await this.pricesFor(session.machineId);
  }

  /** The session whose hold the provider calls `holdId`, or undefined if it is not one of ours. */
  async sessionOfHold(holdId: string): Promise<string | undefined> {
    const entry = await this.#holds.get(holdKey(holdId));
    if (entry?.operation !== "PUT") return undefined;
    return entry.string();
  }

  /**
   * Starts a session at a machine: holds the machine's maximum amount on the customer's payment
   * method and unlocks the machine. Resolves with the session: `unlocked`, or `declined`, or
   * `failed` (the machine did not unlock; the hold was released).
   */
  async start(input: StartRequest): Promise<PaymentSession> {
    if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(input.machineId)) {
      throw new TypeError(`Invalid machine id ${JSON.stringify(input.machineId.slice(0, 80))}`);
    }
    // Read in this region, the registry may be up to a second behind the primary: before
    // refusing a customer for a payment method or prices they may have been shown a moment ago
    // through another instance, ask the primary how things are now.
    let customer = await this.#customers.customer(input.customerId);
    let method = methodOf(customer, input.paymentMethodId);
    if (!method) {
      customer = await this.#customers.customer(input.customerId, { latest: true });
      method = methodOf(customer, input.paymentMethodId);
    }
    if (!method) {
      throw new PaymentNotFoundError(
        input.paymentMethodId
          ? `payment method ${input.paymentMethodId} of customer ${input.customerId}`
          : `payment method of customer ${input.customerId}`,
      );
    }
    // The prices of now are the session's, whatever happens to the list while the door is open;
    // they must be the ones the customer was shown.
    let { list, ref } = await this.#o.prices.forMachine(input.machineId);
    const shown = (l: PriceList) =>
      (input.currency === undefined || input.currency === l.currency) &&
      (input.prices === undefined || input.prices === l.version);
    if (!shown(list)) {
      ({ list, ref } = await this.#o.prices.forMachine(input.machineId, { latest: true }));
    }
    if (input.currency !== undefined && input.currency !== list.currency) {
      throw new PriceMismatchError(
        "currency",
        `The request is in ${input.currency}; machine ${input.machineId} is in ${list.currency}`,
      );
    }
    if (input.prices !== undefined && input.prices !== list.version) {
      throw new PriceMismatchError(
        "prices",
        `The prices shown (${input.prices}) are no longer machine ${input.machineId}'s (${list.version})`,
      );
    }
    const sessionId = `pay-${newMessageId(this.#now())}`;
    await this.#log.create(
      { sessionId, machineId: input.machineId, currency: list.currency },
      {
        body: {
          type: "session_started",
          customerId: customer.customerId,
          ...(ref ? { priceList: { id: ref.id, revision: ref.revision } } : {}),
        },
        paymentMethod: method.token,
      },
    );
    return await this.drive(sessionId);
  }

  /** Takes every step the session can take now; returns it as it is after them. */
  async drive(sessionId: string): Promise<PaymentSession> {
    let { session: s, paymentMethod } = await this.#log.stored(sessionId);
    if (s.state === "started") {
      try {
        const hold = await this.call(() =>
          this.#o.provider.authorize({
            paymentMethod,
            customer: s.customerId,
            amount: this.holdAmount,
            currency: s.currency,
            idempotencyKey: `${sessionId}:hold`,
          })
        );
        // The provider's webhooks name the hold; this finds its session.
        await this.#holds.put(holdKey(hold.holdId), encoder.encode(sessionId));
        s = await this.#log.advance(
          sessionId,
          (x) =>
            x.state === "started"
              ? { type: "hold_authorized", amount: hold.amount, holdId: hold.holdId }
              : null,
          () => ({ holdExpiresAt: hold.expiresAt }),
        );
        await this.#books.book(holdTransaction(this.#books.parties(s), hold.amount));
      } catch (e) {
        if (!(e instanceof PaymentDeclinedError)) throw e;
        return await this.#log.advance(
          sessionId,
          (x) =>
            x.state === "started"
              ? { type: "hold_declined", reason: `${e.code}: ${e.message}`.slice(0, 200) }
              : null,
        );
      }
    }
    if (s.state === "held") {
      try {
        const sent = await this.#o.unlocker.unlock(s.machineId, sessionId);
        s = await this.#log.advance(
          sessionId,
          (x) =>
            x.state === "held"
              ? { type: "unlock_sent", deviceId: sent.deviceId, commandId: sent.commandId }
              : null,
        );
      } catch (e) {
        // The session fails (its hold released) with the reason; the failure is logged too.
        this.#o.logger?.log("warn", "the machine did not unlock; the session is released", {
          sessionId,
          machineId: s.machineId,
          error: String(e),
        });
        s = await this.release(sessionId, `the machine did not unlock: ${(e as Error).message}`);
      }
    }
    if (s.state === "capturing") s = await this.settle(sessionId);
    return s;
  }

  /** Releases the whole hold of a session that cannot go on, and fails it with `reason`. */
  async release(sessionId: string, reason: string): Promise<PaymentSession> {
    let s = await this.#log.get(sessionId);
    if (s.hold && s.released === 0 && s.captured === 0) {
      await this.call(() =>
        this.#o.provider.cancel({ holdId: s.hold!.holdId, idempotencyKey: `${sessionId}:cancel` })
      ).catch((e) => {
        // A hold the provider no longer has (lapsed, cancelled) is released all the same.
        if (!(e instanceof PaymentDeclinedError)) throw e;
      });
      s = await this.#log.advance(
        sessionId,
        (x) =>
          x.released === 0 && x.captured === 0
            ? { type: "hold_released", amount: x.hold!.amount }
            : null,
      );
      const parties = this.#books.parties(s);
      for (const t of settleTransactions(parties, { hold: s.hold!.amount, captured: 0 })) {
        await this.#books.book(t);
      }
    }
    return await this.#log.advance(
      sessionId,
      (x) => isFinal(x.state) ? null : { type: "failed", reason: reason.slice(0, 200) },
    );
  }

  /**
   * Takes a door session's outcome from the machine (`session_completed`): the cart is captured,
   * or the session goes to review with the reasons. A cart for a session that is not a payment
   * session is ignored; one that arrives again changes nothing.
   */
  async cartArrived(
    event: Extract<PipelineEvent, { type: "session_completed" }>,
  ): Promise<PaymentSession | undefined> {
    const stored = await this.#log.stored(event.sessionId).catch((e) => {
      if (e instanceof PaymentNotFoundError) return undefined;
      throw e;
    });
    if (!stored) return undefined;
    if (stored.session.machineId !== event.machineId) {
      throw new PaymentConflictError(
        `Session ${event.sessionId} is at machine ${stored.session.machineId}, ` +
          `the cart came from ${event.machineId}`,
      );
    }
    let s = await this.#log.advance(
      event.sessionId,
      (x) =>
        x.state === "unlocked"
          ? {
            type: "cart_received",
            cart: event.cart,
            confidence: event.confidence,
            modelVersion: event.modelVersion,
          }
          : null,
      () => ({
        closedAt: event.closedAt,
        ...(event.lineConfidence ? { lineConfidence: event.lineConfidence } : {}),
      }),
    );
    if (s.state !== "capturing" || s.captured > 0 || s.released > 0) {
      return s.state === "capturing" ? await this.settle(event.sessionId) : s;
    }
    const reasons = [
      ...(event.review.required
        ? (event.review.reasons.length ? event.review.reasons : ["the machine asked for a review"])
        : []),
      ...cartProblems(s.cart ?? [], { hold: s.hold!.amount, prices: await this.pricesOf(s) }),
    ];
    if (reasons.length > 0) {
      s = await this.#log.advance(
        event.sessionId,
        (x) =>
          x.state === "capturing" && x.captured === 0 && x.released === 0
            ? { type: "review_required", reasons: reasons.slice(0, 20) }
            : null,
      );
      return s;
    }
    return await this.settle(event.sessionId);
  }

  /** Captures the session's cart (or cancels the hold for an empty one) and issues the receipt. */
  async settle(sessionId: string): Promise<PaymentSession> {
    let s = await this.#log.get(sessionId);
    if (s.state !== "capturing") return s;
    const { lines, total } = priceCart(s.cart ?? [], await this.pricesOf(s));
    const hold = s.hold!;
    if (total > 0 && s.captured === 0) {
      let c;
      try {
        c = await this.call(() =>
          this.#o.provider.capture({
            holdId: hold.holdId,
            amount: total,
            idempotencyKey: `${sessionId}:capture`,
          })
        );
      } catch (e) {
        if (!(e instanceof PaymentDeclinedError)) throw e;
        // The hold lapsed (a cart that came too late) or the provider refused: nothing can be
        // charged on it; the session ends failed with the reason, for the operator.
        return await this.release(sessionId, `the capture was refused: ${e.code}: ${e.message}`);
      }
      s = await this.#log.advance(
        sessionId,
        (x) =>
          x.captured === 0 ? { type: "captured", amount: c.amount, holdAmount: hold.amount } : null,
      );
    }
    if (total === 0 && s.released === 0) {
      await this.call(() =>
        this.#o.provider.cancel({ holdId: hold.holdId, idempotencyKey: `${sessionId}:cancel` })
      );
    }
    if (s.released === 0 && hold.amount - s.captured > 0) {
      s = await this.#log.advance(
        sessionId,
        (x) =>
          x.released === 0 ? { type: "hold_released", amount: hold.amount - x.captured } : null,
      );
    }
    const parties = this.#books.parties(s);
    for (const t of settleTransactions(parties, { hold: hold.amount, captured: s.captured })) {
      await this.#books.book(t);
    }
    return await this.#log.advance(
      sessionId,
      (x) =>
        x.state === "capturing"
          ? {
            type: "receipt_issued",
            lines: lines.map((l) => ({ ...l })),
            total: x.captured,
          }
          : null,
      () => ({ receiptAt: this.#now() }),
    );
  }

  /** A provider call, tried again (same idempotency key) while the provider is unavailable. */
  async call<T>(work: () => Promise<T>): Promise<T> {
    const attempts = this.#o.attempts ?? 3;
    let delay = this.#o.retryDelayMs ?? 100;
    for (let i = 1;; i++) {
      try {
        return await work();
      } catch (e) {
        if (!(e instanceof ProviderUnavailableError) || i >= attempts) throw e;
        await sleep(delay);
        delay *= 2;
      }
    }
  }
}

/** Why a cart cannot be charged as it is (unknown SKUs, above the hold). */
export function cartProblems(
  cart: readonly { sku: string; qty: number }[],
  at: { readonly hold: number; readonly prices: PriceList },
): string[] {
  try {
    const { total } = priceCart(cart, at.prices);
    return total > at.hold ? [`the cart's total ${total} is above the hold of ${at.hold}`] : [];
  } catch (e) {
    if (e instanceof UnknownSkuError || e instanceof RangeError) return [e.message];
    throw e;
  }
}

/** A provider's hold id as a KV key (ids with other characters are hex-encoded). */
function holdKey(holdId: string): string {
  return /^[A-Za-z0-9_-]{1,200}$/.test(holdId) ? holdId : `x${toHex(encoder.encode(holdId))}`;
}
