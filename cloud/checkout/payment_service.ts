/**
 * The payment service: customers and their payment methods (provider tokens only), and every
 * payment session from the customer's start at a machine to its receipt. A session lives in the
 * `payment_sessions` KV bucket and changes only by {@link applyPaymentEvent} under
 * compare-and-swap on the entry's revision; every change is also published to the region's
 * PAYMENTS stream (message id derived from the session and step, so a repeat is dropped). Each
 * provider call carries an idempotency key derived from the session and the step
 * (`<sessionId>:hold`, `:capture`, `:cancel`, `:refund-<n>`), and every step first looks at the
 * session's state, so whatever arrives twice (a cart event redelivered, a retried request, two
 * cloud instances) moves money once. Money movements are written to the `ledger` bucket as
 * balanced transactions, created once by id. {@link PaymentService.reconcile} finishes sessions a
 * crash interrupted.
 *
 * {@link PaymentService} is a facade over parts that each own their state: the session log
 * (`_session_log.ts`, the only writer of payment sessions and their indexes), the flow
 * (`_payment_flow.ts`: hold, unlock, cart, capture, receipt; the holds index), review
 * (`_session_review.ts`), refunds, disputes and provider events (`_after_sale.ts`), the books
 * (`_payment_books.ts`, the ledger), customers (`_customer_registry.ts`), clips
 * (`_session_clips.ts`), the door-session outcome consumer (`_outcome_consumer.ts`) and the
 * reconciler (`_reconciler.ts`).
 *
 * @example
 * ```ts
 * import { connect } from "@nats-io/transport-node";
 * import { DEFAULT_CATALOGUE } from "../../models/mod.ts";
 * import { priceList, SandboxProvider } from "../../payments/mod.ts";
 * import { KvSandboxStore } from "./kv_sandbox_store.ts";
 * import { PaymentService } from "./payment_service.ts";
 * import { PriceBook } from "./price_book.ts";
 *
 * const nc = await connect({ servers: "127.0.0.1:4222" });
 * const payments = await PaymentService.open(nc, {
 *   region: "local",
 *   provider: new SandboxProvider(await KvSandboxStore.open(nc)),
 *   prices: await PriceBook.open(nc, { seed: priceList(DEFAULT_CATALOGUE) }),
 *   unlocker: { unlock: () => Promise.resolve({ deviceId: "m001-a", commandId: "cmd-00000001" }) },
 * });
 * const customer = await payments.registerCustomer({ email: "ada@example.com" });
 * await payments.addPaymentMethod(customer.customerId, { token: "pm_sandbox_visa" });
 * const session = await payments.start({ customerId: customer.customerId, machineId: "m001" });
 * console.log(session.state); // "unlocked"
 * ```
 *
 * @module
 */
import type { NatsConnection } from "@nats-io/nats-core";
import type { PaymentSession, PriceList, ProviderEvent } from "../../payments/mod.ts";
import type { PipelineEvent } from "../../protocol/mod.ts";
import { AfterSale } from "./_after_sale.ts";
import { type Customer, CustomerRegistry, type PaymentMethod } from "./_customer_registry.ts";
import { OutcomeConsumer } from "./_outcome_consumer.ts";
import { FieldAccuracy } from "./field_accuracy.ts";
import { checkPaymentBooks, PaymentBooks } from "./_payment_books.ts";
import { PaymentFlow, type StartRequest } from "./_payment_flow.ts";
import { clockOf, type PaymentServiceOptions } from "./_payment_options.ts";
import { Reconciler } from "./_reconciler.ts";
import { type SessionClip, SessionClips } from "./_session_clips.ts";
import { type PaymentSessionDetail, SessionLog } from "./_session_log.ts";
import { SessionReview } from "./_session_review.ts";

export {
  PaymentConflictError,
  PaymentNotFoundError,
  PriceMismatchError,
} from "./_payment_errors.ts";
export { type Customer, EMAIL, type PaymentMethod, PHONE } from "./_customer_registry.ts";
export type { MachineUnlocker, PaymentServiceOptions } from "./_payment_options.ts";
export type { PaymentSessionDetail } from "./_session_log.ts";
export type { SessionClip } from "./_session_clips.ts";
export { checkPaymentBooks } from "./_payment_books.ts";

/** The parts {@link PaymentService} delegates to. */
interface Parts {
  readonly options: PaymentServiceOptions;
  readonly log: SessionLog;
  readonly customers: CustomerRegistry;
  readonly flow: PaymentFlow;
  readonly review: SessionReview;
  readonly afterSale: AfterSale;
  readonly clips: SessionClips;
  readonly reconciler: Reconciler;
  readonly outcomes: OutcomeConsumer;
  readonly accuracy: FieldAccuracy;
}

/** The payment service (state in NATS; any number of instances). */
export class PaymentService {
  readonly #nc: NatsConnection;
  readonly #p: Parts;

  private constructor(nc: NatsConnection, parts: Parts) {
    this.#nc = nc;
    this.#p = parts;
  }

  /** Opens the service (creating its buckets when missing). */
  static async open(nc: NatsConnection, options: PaymentServiceOptions): Promise<PaymentService> {
    const now = clockOf(options);
    const log = await SessionLog.open(nc, { region: options.region, now, logger: options.logger });
    const customers = await CustomerRegistry.open(nc, { provider: options.provider, now });
    const books = await PaymentBooks.open(nc, { now });
    const flow = await PaymentFlow.open(nc, { options, log, books, customers });
    const clips = new SessionClips(nc, { region: options.region });
    const review = new SessionReview({ options, log, flow });
    return new PaymentService(nc, {
      options,
      log,
      customers,
      flow,
      review,
      clips,
      afterSale: new AfterSale({ options, log, books, flow, clips }),
      reconciler: new Reconciler({ options, log, flow, review }),
      outcomes: new OutcomeConsumer(nc, { options, flow }),
      accuracy: await FieldAccuracy.open(nc, {
        region: options.region,
        sessions: log,
        now,
        ...(options.reviewRateAlert ? { reviewRateAlert: options.reviewRateAlert } : {}),
        logger: options.logger,
      }),
    });
  }

  /** Field accuracy per machine and model version (counted by {@link run}). */
  get accuracy(): FieldAccuracy {
    return this.#p.accuracy;
  }

  /** What `machineId` sells now, at what price. */
  pricesFor(machineId: string): Promise<PriceList> {
    return this.#p.flow.pricesFor(machineId);
  }

  /** The prices machines sell at unless assigned another list. */
  standardPrices(): Promise<PriceList> {
    return this.#p.options.prices.standard();
  }

  /** The prices `session` is charged at: those of the price list revision of its start. */
  pricesOf(session: PaymentSession): Promise<PriceList> {
    return this.#p.flow.pricesOf(session);
  }

  /** The payment provider's name (`sandbox`, `stripe`). */
  get providerName(): string {
    return this.#p.options.provider.name;
  }

  /** The hold every session starts with. */
  get holdAmount(): number {
    return this.#p.flow.holdAmount;
  }

  // ---- customers

  /** Registers a customer by email or phone number (E.164, `+34600111222`). */
  registerCustomer(
    input: { readonly email?: string; readonly phone?: string },
  ): Promise<Customer> {
    return this.#p.customers.register(input);
  }

  /**
   * A customer, or throws {@link PaymentNotFoundError}; with `latest`, as the primary region
   * has it this moment.
   */
  customer(customerId: string, options: { latest?: boolean } = {}): Promise<Customer> {
    return this.#p.customers.customer(customerId, options);
  }

  /**
   * Adds a payment method by its provider token; anything that is not a token (a card number
   * above all) is refused with a TypeError that does not repeat it.
   */
  addPaymentMethod(
    customerId: string,
    input: { readonly token: string },
  ): Promise<PaymentMethod> {
    return this.#p.customers.addPaymentMethod(customerId, input);
  }

  /** Removes a payment method (sessions already held on it go on). */
  removePaymentMethod(customerId: string, paymentMethodId: string): Promise<Customer> {
    return this.#p.customers.removePaymentMethod(customerId, paymentMethodId);
  }

  /** Makes a payment method the one sessions use. */
  setDefaultPaymentMethod(customerId: string, paymentMethodId: string): Promise<Customer> {
    return this.#p.customers.setDefaultPaymentMethod(customerId, paymentMethodId);
  }

  /** A customer's sessions, newest first (from the `customer_sessions` index). */
  sessionsOf(
    customerId: string,
    options: { readonly limit?: number } = {},
  ): Promise<PaymentSession[]> {
    return this.#p.log.sessionsOf(customerId, options);
  }

  // ---- sessions

  /** A session, or throws {@link PaymentNotFoundError}. */
  get(sessionId: string): Promise<PaymentSession> {
    return this.#p.log.get(sessionId);
  }

  /**
   * Starts a session at a machine: holds the machine's maximum amount on the customer's payment
   * method and unlocks the machine. Resolves with the session: `unlocked`, or `declined`, or
   * `failed` (the machine did not unlock; the hold was released).
   */
  start(input: StartRequest): Promise<PaymentSession> {
    return this.#p.flow.start(input);
  }

  /**
   * Takes a door session's outcome from the machine (`session_completed`): the cart is captured,
   * or the session goes to review with the reasons. A cart for a session that is not a payment
   * session is ignored; one that arrives again changes nothing.
   */
  cartArrived(
    event: Extract<PipelineEvent, { type: "session_completed" }>,
  ): Promise<PaymentSession | undefined> {
    return this.#p.flow.cartArrived(event);
  }

  /** A reviewer's cart for a session in review (approving is sending the device's cart). */
  review(
    sessionId: string,
    input: { readonly reviewer: string; readonly cart: readonly { sku: string; qty: number }[] },
  ): Promise<PaymentSession> {
    return this.#p.review.review(sessionId, input);
  }

  /** Refunds `amount` of a settled session (one refund per call). */
  refund(
    sessionId: string,
    input: { readonly amount: number; readonly sku?: string | null; readonly requestId: string },
  ): Promise<PaymentSession> {
    return this.#p.afterSale.refund(sessionId, input);
  }

  /**
   * Opens a dispute on a settled session, attaching its door session's clips (the SHA-256 of each
   * clip the machine uploaded for the session, at most 12) for whoever reviews it.
   */
  dispute(sessionId: string, input: { readonly reason: string }): Promise<PaymentSession> {
    return this.#p.afterSale.dispute(sessionId, input);
  }

  /**
   * The clips the machine uploaded for a door session (objects
   * `<deviceId>/<sessionId>/<cameraId>-<part>.mp4`), by name, with SHA-256, from the stores of the region
   * that sold it and of its cabinet's home region: a machine that failed over to this region
   * still uploads its clips at home.
   */
  clips(sessionId: string): Promise<SessionClip[]> {
    return this.#p.clips.clips(sessionId);
  }

  /** One of {@link clips}' clips, read from the region that holds it; null if it is not one. */
  clip(sessionId: string, name: string): Promise<Uint8Array | null> {
    return this.#p.clips.clip(sessionId, name);
  }

  /**
   * Acts on what the provider's webhook says happened there: a dispute opens the dispute on the
   * settled session (with its clips); a hold that ended at the provider fails a session not yet
   * unlocked and sends one waiting for its cart to review (nothing can be charged on it any
   * more). An event about a hold this system did not place, or one that changes nothing (a
   * repeat, a cancel of our own), returns `undefined`.
   */
  providerEvent(event: ProviderEvent): Promise<PaymentSession | undefined> {
    return this.#p.afterSale.providerEvent(event);
  }

  /** Every session (tests and tools: it reads the whole bucket). */
  sessions(): Promise<PaymentSession[]> {
    return this.#p.log.sessions();
  }

  /** A session with the device's per-line confidence, door close and receipt times. */
  detail(sessionId: string): Promise<PaymentSessionDetail> {
    return this.#p.log.detail(sessionId);
  }

  /**
   * The review queue, oldest first: from the `payment_review` index (one key per session in
   * review), so it costs what the queue holds, not every session there is. An index entry whose
   * session has left review (a crash between the two writes) is removed here.
   */
  reviewQueue(options: { readonly limit?: number } = {}): Promise<PaymentSessionDetail[]> {
    return this.#p.log.reviewQueue(options);
  }

  /**
   * The sessions that changed most recently, newest first: read from the last `window` events of
   * the PAYMENTS stream (default 2,000), so it costs the same with a million sessions.
   */
  recent(
    options: { readonly limit?: number; readonly window?: number } = {},
  ): Promise<PaymentSessionDetail[]> {
    return this.#p.log.recent(options);
  }

  /**
   * Checks the books: every ledger transaction balances and is recorded once, and every session's
   * money is where its state says (see `checkLedger`). Returns the discrepancies (none: all
   * right).
   */
  async checkLedger(): Promise<string[]> {
    return (await checkPaymentBooks(this.#nc)).discrepancies;
  }

  /**
   * Finishes what a crash or an unavailable provider left undone: a session started but not
   * held, held but not unlocked, or with its cart known but not captured. A session still waiting
   * for its cart when its hold is about to lapse (the machine has been offline for days) goes to
   * review with the reason. Returns how many sessions it moved.
   */
  reconcile(
    options: { readonly olderThanMs?: number; readonly expiryMarginMs?: number } = {},
  ): Promise<number> {
    return this.#p.reconciler.reconcile(options);
  }

  /**
   * Consumes the region's door-session outcomes and counts its payment events into the field
   * accuracy (durable consumers shared by the cloud instances) until `signal` aborts; a message
   * is acknowledged once its step is stored, so a crash before that redelivers it.
   */
  async run(signal: AbortSignal): Promise<void> {
    await Promise.all([this.#p.outcomes.run(signal), this.#p.accuracy.run(signal)]);
  }
}
