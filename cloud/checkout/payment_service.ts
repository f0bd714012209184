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
import {
  getLatest,
  isConsumerExists,
  isTransientNatsError,
  openKv,
  openRegionObjectStore,
} from "../nats/mod.ts";
import type { PriceSource } from "./price_book.ts";
import {
  AckPolicy,
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  type JsMsg,
} from "@nats-io/jetstream";
import { nanos, type NatsConnection } from "@nats-io/nats-core";
import type { KV } from "@nats-io/kv";
import {
  applyPaymentEvent,
  checkLedger,
  holdTransaction,
  isFinal,
  type LedgerParties,
  type LedgerTransaction,
  PaymentDeclinedError,
  type PaymentProvider,
  type PaymentSession,
  priceCart,
  type PriceList,
  type ProviderEvent,
  ProviderUnavailableError,
  refundTransaction,
  type SessionBooks,
  settleTransactions,
  UnknownSkuError,
} from "../../payments/mod.ts";
import {
  type AuditEntry,
  auditEntry,
  buckets,
  deviceSubjectParts,
  filters,
  newEnvelope,
  newMessageId,
  parsePaymentEvent,
  parsePipelineEvent,
  type PaymentEvent,
  paymentEvent,
  paymentSubjectParts,
  type PipelineEvent,
  streamName,
  subjects,
} from "../../protocol/mod.ts";
import { isRevisionConflict } from "../fleet/mod.ts";
import type { Logger } from "../../runtime/mod.ts";

/** Opens a machine's door for a payment session: the cloud's command to its primary device. */
export interface MachineUnlocker {
  /** Sends the unlock; resolves once the device accepted it, rejects when it did not. */
  unlock(machineId: string, sessionId: string): Promise<{ deviceId: string; commandId: string }>;
}

/** A registered customer. */
export interface Customer {
  readonly customerId: string;
  /** The customer's email, or null for one who signed up with a phone number. */
  readonly email: string | null;
  /** The customer's phone number (E.164), or null. */
  readonly phone?: string | null;
  readonly createdAt: number;
  /** Payment methods: provider tokens, never card numbers. */
  readonly paymentMethods: readonly PaymentMethod[];
  /** The method sessions use unless told otherwise (default: the last added). */
  readonly defaultPaymentMethodId?: string | null;
}

/** A payment method: the provider's token for it. */
export interface PaymentMethod {
  readonly paymentMethodId: string;
  readonly token: string;
  readonly provider: string;
  readonly addedAt: number;
}

/** Options of {@link PaymentService.open}. */
export interface PaymentServiceOptions {
  readonly region: string;
  readonly provider: PaymentProvider;
  /** What each machine sells, at what price: a {@link PriceBook}, or `fixedPrices(list)`. */
  readonly prices: PriceSource;
  readonly unlocker: MachineUnlocker;
  /** The authorization hold: the most a session can cost, minor units. Default 5,000. */
  readonly holdAmount?: number;
  /** Provider calls that found it unavailable are tried this many times. Default 3. */
  readonly attempts?: number;
  /** Wait between those tries, ms (doubling). Default 100. */
  readonly retryDelayMs?: number;
  /** Clock, Unix ms. Default `Date.now`. */
  readonly now?: () => number;
  /** Door-session outcomes handled at once by {@link PaymentService.run}. Default 32. */
  readonly concurrency?: number;
  /** Where refused carts are logged. */
  readonly logger?: Logger;
  /**
   * A review not done in this long is settled by policy: `charge_sure_items` captures the
   * device's cart lines it was at least `sureAbove` sure of and releases the rest; `release`
   * charges nothing. Default 24 h, `charge_sure_items`, 0.95.
   */
  readonly reviewTimeout?: {
    readonly afterMs?: number;
    readonly policy?: "charge_sure_items" | "release";
    readonly sureAbove?: number;
  };
}

/** A clip of a session's door session, and the region whose store holds it. */
export interface SessionClip {
  readonly name: string;
  /** Hex SHA-256 of the clip (what a dispute attaches). */
  readonly sha256: string;
  readonly region: string;
}

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

interface Stored {
  readonly session: PaymentSession;
  readonly paymentMethod: string;
  readonly lastEvent: PaymentEvent;
  /** When the provider lets the hold lapse (Unix ms). */
  readonly holdExpiresAt?: number;
  /** Refund request ids already refunded. */
  readonly refundKeys?: readonly string[];
  /** The device's confidence per cart line (SKU). */
  readonly lineConfidence?: Readonly<Record<string, number>>;
  /** When the door closed (the device's clock, Unix ms). */
  readonly closedAt?: number;
  /** When the receipt was issued (Unix ms). */
  readonly receiptAt?: number;
}

/** A session with what the operators' pages show besides its state. */
export interface PaymentSessionDetail {
  readonly session: PaymentSession;
  /** The device's confidence per cart line (SKU), when it sent them. */
  readonly lineConfidence: Readonly<Record<string, number>> | null;
  /** When the door closed (Unix ms), once the cart arrived. */
  readonly closedAt: number | null;
  /** When the receipt was issued (Unix ms). */
  readonly receiptAt: number | null;
}

type EventBody = PaymentEvent extends infer E
  ? E extends PaymentEvent ? Omit<E, "v" | "id" | "ts" | "sessionId" | "machineId" | "currency">
  : never
  : never;

const encoder = new TextEncoder();
const TOKEN = /^(pm|tok|card|src)_[A-Za-z0-9_]{3,96}$/;
/** An email address, loosely (the one-time code proves it). */
export const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,190}$/;
/** A phone number in E.164. */
export const PHONE = /^\+[1-9][0-9]{6,14}$/;

/** The payment service (state in NATS; any number of instances). */
export class PaymentService {
  readonly #nc: NatsConnection;
  readonly #o: PaymentServiceOptions;
  readonly #sessions: KV;
  readonly #customers: KV;
  readonly #ledger: KV;
  readonly #holds: KV;
  readonly #review: KV;
  readonly #byCustomer: KV;

  private constructor(nc: NatsConnection, o: PaymentServiceOptions, kvs: KV[]) {
    this.#nc = nc;
    this.#o = o;
    [this.#sessions, this.#customers, this.#ledger, this.#holds, this.#review, this.#byCustomer] =
      kvs as [KV, KV, KV, KV, KV, KV];
  }

  /** Opens the service (creating its buckets when missing). */
  static async open(nc: NatsConnection, options: PaymentServiceOptions): Promise<PaymentService> {
    return new PaymentService(nc, options, [
      await openKv(nc, buckets.paymentSessions, { history: 1 }),
      // A customer registered here is read back at once (adding its card) while the region's
      // mirror may not have it yet.
      await openKv(nc, buckets.customers, { history: 1 }),
      await openKv(nc, buckets.ledger, { history: 1 }),
      await openKv(nc, buckets.paymentHolds, { history: 1 }),
      await openKv(nc, buckets.paymentReview, { history: 1 }),
      await openKv(nc, buckets.customerSessions, { history: 1 }),
    ]);
  }

  #now(): number {
    return (this.#o.now ?? Date.now)();
  }

  /** What `machineId` sells now, at what price. */
  async pricesFor(machineId: string): Promise<PriceList> {
    return (await this.#o.prices.forMachine(machineId)).list;
  }

  /** The prices machines sell at unless assigned another list. */
  standardPrices(): Promise<PriceList> {
    return this.#o.prices.standard();
  }

  /** The prices `session` is charged at: those of the price list revision of its start. */
  async pricesOf(session: PaymentSession): Promise<PriceList> {
    return session.priceList
      ? await this.#o.prices.at(session.priceList)
      : await this.pricesFor(session.machineId);
  }

  /** The payment provider's name (`sandbox`, `stripe`). */
  get providerName(): string {
    return this.#o.provider.name;
  }

  /** The hold every session starts with. */
  get holdAmount(): number {
    return this.#o.holdAmount ?? 5000;
  }

  // ---- customers

  /** Registers a customer by email or phone number (E.164, `+34600111222`). */
  async registerCustomer(
    input: { readonly email?: string; readonly phone?: string },
  ): Promise<Customer> {
    if ((input.email === undefined) === (input.phone === undefined)) {
      throw new TypeError("Invalid customer: expected an email or a phone number");
    }
    if (input.email !== undefined && !EMAIL.test(input.email)) {
      throw new TypeError(`Invalid email ${JSON.stringify(input.email.slice(0, 80))}`);
    }
    if (input.phone !== undefined && !PHONE.test(input.phone)) {
      throw new TypeError(`Invalid phone number ${JSON.stringify(input.phone.slice(0, 40))}`);
    }
    const customer: Customer = {
      customerId: `cus-${newMessageId(this.#now())}`,
      email: input.email ?? null,
      phone: input.phone ?? null,
      createdAt: this.#now(),
      paymentMethods: [],
    };
    await this.#customers.create(customer.customerId, encoder.encode(JSON.stringify(customer)));
    return customer;
  }

  /**
   * A customer, or throws {@link PaymentNotFoundError}; with `latest`, as the primary region
   * has it this moment.
   */
  async customer(customerId: string, options: { latest?: boolean } = {}): Promise<Customer> {
    // Not a key at all is no customer; a read that fails (the registry cannot tell yet: a
    // ReplicaBehindError) propagates rather than pass for "no such customer".
    if (!/^[-\w]{1,128}$/.test(customerId)) {
      throw new PaymentNotFoundError(`customer ${customerId.slice(0, 80)}`);
    }
    const e = options.latest
      ? await getLatest(this.#customers, customerId)
      : await this.#customers.get(customerId);
    if (!e || e.operation !== "PUT") throw new PaymentNotFoundError(`customer ${customerId}`);
    return e.json<Customer>();
  }

  /**
   * Adds a payment method by its provider token; anything that is not a token (a card number
   * above all) is refused with a TypeError that does not repeat it.
   */
  async addPaymentMethod(
    customerId: string,
    input: { readonly token: string },
  ): Promise<PaymentMethod> {
    if (!TOKEN.test(input.token)) {
      throw new TypeError(
        "Invalid payment method: expected a provider token such as pm_... (never a card number)",
      );
    }
    let added: PaymentMethod | undefined;
    await this.#changeCustomer(customerId, (c) => {
      added = c.paymentMethods.find((m) => m.token === input.token);
      if (added) return c;
      added = {
        paymentMethodId: `pmt-${newMessageId(this.#now())}`,
        token: input.token,
        provider: this.#o.provider.name,
        addedAt: this.#now(),
      };
      // The first method is the default until the customer chooses another.
      return {
        ...c,
        paymentMethods: [...c.paymentMethods, added],
        defaultPaymentMethodId: c.defaultPaymentMethodId ?? added.paymentMethodId,
      };
    });
    return added!;
  }

  /** Changes a customer's record by compare-and-swap (`change` returns the new record). */
  async #changeCustomer(customerId: string, change: (c: Customer) => Customer): Promise<Customer> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const e = await this.#customers.get(customerId);
      if (!e || e.operation !== "PUT") throw new PaymentNotFoundError(`customer ${customerId}`);
      const next = change(e.json<Customer>());
      try {
        await this.#customers.update(customerId, encoder.encode(JSON.stringify(next)), e.revision);
        return next;
      } catch (err) {
        if (!isRevisionConflict(err)) throw err;
        // Changed meanwhile, or this region's mirror is behind the original: read again soon.
        await new Promise((r) => setTimeout(r, 10 * (attempt + 1)));
      }
    }
    throw new PaymentConflictError(`Customer ${customerId} is changing too often; try again`);
  }

  /** Removes a payment method (sessions already held on it go on). */
  async removePaymentMethod(customerId: string, paymentMethodId: string): Promise<Customer> {
    return await this.#changeCustomer(customerId, (c) => {
      if (!c.paymentMethods.some((m) => m.paymentMethodId === paymentMethodId)) {
        throw new PaymentNotFoundError(
          `payment method ${paymentMethodId} of customer ${customerId}`,
        );
      }
      return {
        ...c,
        paymentMethods: c.paymentMethods.filter((m) => m.paymentMethodId !== paymentMethodId),
        defaultPaymentMethodId: c.defaultPaymentMethodId === paymentMethodId
          ? null
          : c.defaultPaymentMethodId ?? null,
      };
    });
  }

  /** Makes a payment method the one sessions use. */
  async setDefaultPaymentMethod(customerId: string, paymentMethodId: string): Promise<Customer> {
    return await this.#changeCustomer(customerId, (c) => {
      if (!c.paymentMethods.some((m) => m.paymentMethodId === paymentMethodId)) {
        throw new PaymentNotFoundError(
          `payment method ${paymentMethodId} of customer ${customerId}`,
        );
      }
      return { ...c, defaultPaymentMethodId: paymentMethodId };
    });
  }

  /** A customer's sessions, newest first (from the `customer_sessions` index). */
  async sessionsOf(
    customerId: string,
    options: { readonly limit?: number } = {},
  ): Promise<PaymentSession[]> {
    const ids: string[] = [];
    for await (const key of await this.#byCustomer.keys(`${customerId}.>`)) {
      ids.push(key.slice(customerId.length + 1));
    }
    ids.sort().reverse(); // ids are time-ordered
    const out: PaymentSession[] = [];
    for (const id of ids.slice(0, options.limit ?? 50)) {
      const s = await this.get(id).catch(notFoundAsUndefined);
      if (s) out.push(s);
    }
    return out;
  }

  // ---- sessions

  /** A session, or throws {@link PaymentNotFoundError}. */
  async get(sessionId: string): Promise<PaymentSession> {
    return (await this.#stored(sessionId)).session;
  }

  async #stored(sessionId: string): Promise<Stored> {
    // A failed read is not "no such session": it says why (a timeout is worth another try).
    const e = await this.#sessions.get(sessionId);
    if (!e || e.operation !== "PUT") throw new PaymentNotFoundError(`session ${sessionId}`);
    return e.json<Stored>();
  }

  /**
   * Starts a session at a machine: holds the machine's maximum amount on the customer's payment
   * method and unlocks the machine. Resolves with the session: `unlocked`, or `declined`, or
   * `failed` (the machine did not unlock; the hold was released).
   */
  async start(input: {
    readonly customerId: string;
    readonly machineId: string;
    readonly paymentMethodId?: string;
    /** The currency the customer was shown: refused ({@link PriceMismatchError}) if another. */
    readonly currency?: string;
    /** The price list version the customer was shown (`PriceList.version`): likewise. */
    readonly prices?: string;
  }): Promise<PaymentSession> {
    if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(input.machineId)) {
      throw new TypeError(`Invalid machine id ${JSON.stringify(input.machineId.slice(0, 80))}`);
    }
    // Read in this region, the registry may be up to a second behind the primary: before
    // refusing a customer for a payment method or prices they may have been shown a moment ago
    // through another instance, ask the primary how things are now.
    let customer = await this.customer(input.customerId);
    let method = methodOf(customer, input.paymentMethodId);
    if (!method) {
      customer = await this.customer(input.customerId, { latest: true });
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
    const event = this.#event(
      { sessionId, machineId: input.machineId, currency: list.currency },
      1,
      {
        type: "session_started",
        customerId: customer.customerId,
        ...(ref ? { priceList: { id: ref.id, revision: ref.revision } } : {}),
      },
    );
    const session = applyPaymentEvent(undefined, event);
    const stored: Stored = { session, paymentMethod: method.token, lastEvent: event };
    await this.#sessions.create(sessionId, encoder.encode(JSON.stringify(stored)));
    await this.#byCustomer.put(`${customer.customerId}.${sessionId}`, encoder.encode(""));
    await this.#publish(event);
    return await this.#drive(sessionId);
  }

  /** Takes every step the session can take now; returns it as it is after them. */
  async #drive(sessionId: string): Promise<PaymentSession> {
    let { session: s, paymentMethod } = await this.#stored(sessionId);
    if (s.state === "started") {
      try {
        const hold = await this.#call(() =>
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
        s = await this.#advance(
          sessionId,
          (x) =>
            x.state === "started"
              ? { type: "hold_authorized", amount: hold.amount, holdId: hold.holdId }
              : null,
          () => ({ holdExpiresAt: hold.expiresAt }),
        );
        await this.#book(holdTransaction(this.#parties(s), hold.amount));
      } catch (e) {
        if (!(e instanceof PaymentDeclinedError)) throw e;
        return await this.#advance(
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
        s = await this.#advance(
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
        s = await this.#release(sessionId, `the machine did not unlock: ${(e as Error).message}`);
      }
    }
    if (s.state === "capturing") s = await this.#settle(sessionId);
    return s;
  }

  /** Releases the whole hold of a session that cannot go on, and fails it with `reason`. */
  async #release(sessionId: string, reason: string): Promise<PaymentSession> {
    let s = await this.get(sessionId);
    if (s.hold && s.released === 0 && s.captured === 0) {
      await this.#call(() =>
        this.#o.provider.cancel({ holdId: s.hold!.holdId, idempotencyKey: `${sessionId}:cancel` })
      ).catch((e) => {
        // A hold the provider no longer has (lapsed, cancelled) is released all the same.
        if (!(e instanceof PaymentDeclinedError)) throw e;
      });
      s = await this.#advance(
        sessionId,
        (x) =>
          x.released === 0 && x.captured === 0
            ? { type: "hold_released", amount: x.hold!.amount }
            : null,
      );
      for (const t of settleTransactions(this.#parties(s), { hold: s.hold!.amount, captured: 0 })) {
        await this.#book(t);
      }
    }
    return await this.#advance(
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
    const stored = await this.#stored(event.sessionId).catch((e) => {
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
    let s = await this.#advance(
      event.sessionId,
      (x) =>
        x.state === "unlocked"
          ? { type: "cart_received", cart: event.cart, confidence: event.confidence }
          : null,
      () => ({
        closedAt: event.closedAt,
        ...(event.lineConfidence ? { lineConfidence: event.lineConfidence } : {}),
      }),
    );
    if (s.state !== "capturing" || s.captured > 0 || s.released > 0) {
      return s.state === "capturing" ? await this.#settle(event.sessionId) : s;
    }
    const reasons = [
      ...(event.review.required
        ? (event.review.reasons.length ? event.review.reasons : ["the machine asked for a review"])
        : []),
      ...this.#problems(s.cart ?? [], s.hold!.amount, await this.pricesOf(s)),
    ];
    if (reasons.length > 0) {
      s = await this.#advance(
        event.sessionId,
        (x) =>
          x.state === "capturing" && x.captured === 0 && x.released === 0
            ? { type: "review_required", reasons: reasons.slice(0, 20) }
            : null,
      );
      return s;
    }
    return await this.#settle(event.sessionId);
  }

  /** Why a cart cannot be charged as it is (unknown SKUs, above the hold). */
  #problems(
    cart: readonly { sku: string; qty: number }[],
    hold: number,
    prices: PriceList,
  ): string[] {
    try {
      const { total } = priceCart(cart, prices);
      return total > hold ? [`the cart's total ${total} is above the hold of ${hold}`] : [];
    } catch (e) {
      if (e instanceof UnknownSkuError || e instanceof RangeError) return [e.message];
      throw e;
    }
  }

  /** Captures the session's cart (or cancels the hold for an empty one) and issues the receipt. */
  async #settle(sessionId: string): Promise<PaymentSession> {
    let s = await this.get(sessionId);
    if (s.state !== "capturing") return s;
    const { lines, total } = priceCart(s.cart ?? [], await this.pricesOf(s));
    const hold = s.hold!;
    if (total > 0 && s.captured === 0) {
      let c;
      try {
        c = await this.#call(() =>
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
        return await this.#release(sessionId, `the capture was refused: ${e.code}: ${e.message}`);
      }
      s = await this.#advance(
        sessionId,
        (x) =>
          x.captured === 0 ? { type: "captured", amount: c.amount, holdAmount: hold.amount } : null,
      );
    }
    if (total === 0 && s.released === 0) {
      await this.#call(() =>
        this.#o.provider.cancel({ holdId: hold.holdId, idempotencyKey: `${sessionId}:cancel` })
      );
    }
    if (s.released === 0 && hold.amount - s.captured > 0) {
      s = await this.#advance(
        sessionId,
        (x) =>
          x.released === 0 ? { type: "hold_released", amount: hold.amount - x.captured } : null,
      );
    }
    for (
      const t of settleTransactions(this.#parties(s), { hold: hold.amount, captured: s.captured })
    ) {
      await this.#book(t);
    }
    return await this.#advance(
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

  #reviewAfterMs(): number {
    return this.#o.reviewTimeout?.afterMs ?? 86_400_000;
  }

  /** Settles a review nobody did in time, by the configured policy. */
  async #reviewTimedOut(
    sessionId: string,
    lineConfidence: Readonly<Record<string, number>> | undefined,
  ): Promise<PaymentSession> {
    const s = await this.get(sessionId);
    const policy = this.#o.reviewTimeout?.policy ?? "charge_sure_items";
    const sureAbove = this.#o.reviewTimeout?.sureAbove ?? 0.95;
    const prices = await this.pricesOf(s);
    const sure = policy === "release"
      ? []
      : (s.deviceCart ?? []).filter((l) =>
        (lineConfidence?.[l.sku] ?? 0) >= sureAbove && prices.items.has(l.sku)
      );
    // The sure items alone may still be above the hold: then nothing is charged.
    const cart = this.#problems(sure, s.hold!.amount, prices).length ? [] : sure;
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
    const s = await this.get(sessionId);
    if (s.state !== "review") {
      throw new PaymentConflictError(`Session ${sessionId} is ${s.state}, not in review`);
    }
    const problems = this.#problems(input.cart, s.hold!.amount, await this.pricesOf(s));
    if (problems.length > 0) {
      throw new RangeError(`Cannot charge the reviewed cart: ${problems[0]}`);
    }
    await this.#advance(sessionId, (x) =>
      x.state === "review"
        ? {
          type: "review_completed",
          reviewer: input.reviewer.slice(0, 200),
          cart: input.cart.map((l) => ({ sku: l.sku, qty: l.qty })),
        }
        : null);
    return await this.#settle(sessionId);
  }

  /** Refunds `amount` of a settled session (one refund per call). */
  async refund(
    sessionId: string,
    input: { readonly amount: number; readonly sku?: string | null; readonly requestId: string },
  ): Promise<PaymentSession> {
    if (!Number.isInteger(input.amount) || input.amount < 1) {
      throw new RangeError(`Invalid refund amount ${input.amount}: expected a positive integer`);
    }
    const s = await this.get(sessionId);
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
    const r = await this.#call(() =>
      this.#o.provider.refund({ holdId: s.hold!.holdId, amount: input.amount, idempotencyKey: key })
    );
    await this.#book(refundTransaction(this.#parties(s), input.requestId, r.amount));
    return await this.#advance(
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
    const s = await this.get(sessionId);
    if (s.state !== "settled") {
      throw new PaymentConflictError(
        `Session ${sessionId} is ${s.state}; only a settled one is disputed`,
      );
    }
    const clips = (await this.clips(sessionId)).map((c) => c.sha256);
    return await this.#advance(sessionId, (x) =>
      x.disputed ? null : {
        type: "disputed",
        reason: input.reason.slice(0, 200),
        clips: clips.sort().slice(0, 12),
      });
  }

  /**
   * The clips the machine uploaded for a door session (objects
   * `<deviceId>/<sessionId>/<cameraId>-<part>.mp4`), by name, with SHA-256, from the stores of the region
   * that sold it and of its cabinet's home region: a machine that failed over to this region
   * still uploads its clips at home.
   */
  async clips(sessionId: string): Promise<SessionClip[]> {
    const out: SessionClip[] = [];
    // Only the cabinet's own devices' clips: the device unlocked for the session and the other
    // devices provisioned into its machine (another device could upload a clip named after this
    // session).
    const cabinet = new Set<string>();
    const regions = new Set([this.#o.region]);
    // No unlock stored is null; a read that fails propagates rather than pass for "no clips".
    const unlock = await jetstreamManager(this.#nc).then((jsm) =>
      jsm.streams.getMessage(streamName("PAYMENTS", this.#o.region), {
        last_by_subj: subjects.payment({ region: this.#o.region, sessionId }, "unlock_sent"),
      })
    );
    const u = unlock ? parsePaymentEvent(unlock.data) : undefined;
    if (u?.ok && u.value.type === "unlock_sent") {
      cabinet.add(u.value.deviceId);
      const credentials = await openKv(this.#nc, buckets.deviceCredentials, { history: 5 });
      const record = await credentials.get(u.value.deviceId);
      if (record?.operation === "PUT") {
        const device = record.json<{ peers?: string[]; region?: string }>();
        for (const peer of device.peers ?? []) cabinet.add(peer);
        if (device.region) regions.add(device.region);
      }
    }
    for (const region of regions) {
      const store = await openRegionObjectStore(this.#nc, buckets.clips, region);
      if (!store) continue;
      for await (const info of await store.list()) {
        const [device, session_] = info.name.split("/");
        if (session_ !== sessionId || info.deleted || !cabinet.has(device ?? "")) continue;
        const b64 = info.digest.replace(/^SHA-256=/, "").replace(/-/g, "+").replace(/_/g, "/");
        const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        out.push({
          name: info.name,
          sha256: [...bytes].map((b) => b.toString(16).padStart(2, "0")).join(""),
          region,
        });
      }
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  /** One of {@link clips}' clips, read from the region that holds it; null if it is not one. */
  async clip(sessionId: string, name: string): Promise<Uint8Array | null> {
    const found = (await this.clips(sessionId)).find((c) => c.name === name);
    if (!found) return null;
    const store = await openRegionObjectStore(this.#nc, buckets.clips, found.region);
    return await store?.getBlob(name) ?? null;
  }

  /**
   * Acts on what the provider's webhook says happened there: a dispute opens the dispute on the
   * settled session (with its clips); a hold that ended at the provider fails a session not yet
   * unlocked and sends one waiting for its cart to review (nothing can be charged on it any
   * more). An event about a hold this system did not place, or one that changes nothing (a
   * repeat, a cancel of our own), returns `undefined`.
   */
  async providerEvent(event: ProviderEvent): Promise<PaymentSession | undefined> {
    const entry = await this.#holds.get(holdKey(event.holdId));
    if (entry?.operation !== "PUT") return undefined;
    const sessionId = entry.string();
    const s = await this.get(sessionId);
    if (event.type === "dispute_opened") {
      if (s.state !== "settled" || s.disputed) return undefined;
      return await this.dispute(sessionId, { reason: event.reason });
    }
    if (s.state === "held") return await this.#release(sessionId, `the hold was ${event.reason}`);
    if (s.state !== "unlocked") return undefined;
    return await this.#advance(
      sessionId,
      (x) =>
        x.state === "unlocked"
          ? { type: "review_required", reasons: [`the hold was ${event.reason}`.slice(0, 200)] }
          : null,
    );
  }

  // ---- plumbing

  #parties(s: PaymentSession): LedgerParties {
    return {
      sessionId: s.sessionId,
      customerId: s.customerId,
      machineId: s.machineId,
      currency: s.currency,
      at: this.#now(),
    };
  }

  /** Writes a ledger transaction once (a repeat finds it there). */
  async #book(t: LedgerTransaction): Promise<void> {
    try {
      await this.#ledger.create(t.id, encoder.encode(JSON.stringify(t)));
    } catch (e) {
      if (!isRevisionConflict(e)) throw e;
    }
  }

  /** Every session (tests and tools: it reads the whole bucket). */
  async sessions(): Promise<PaymentSession[]> {
    return (await readAll<Stored>(this.#sessions)).map((x) => x.session);
  }

  /** A session with the device's per-line confidence, door close and receipt times. */
  async detail(sessionId: string): Promise<PaymentSessionDetail> {
    const s = await this.#stored(sessionId);
    return {
      session: s.session,
      lineConfidence: s.lineConfidence ?? null,
      closedAt: s.closedAt ?? null,
      receiptAt: s.receiptAt ?? null,
    };
  }

  /**
   * The review queue, oldest first: from the `payment_review` index (one key per session in
   * review), so it costs what the queue holds, not every session there is. An index entry whose
   * session has left review (a crash between the two writes) is removed here.
   */
  async reviewQueue(options: { readonly limit?: number } = {}): Promise<PaymentSessionDetail[]> {
    const keys: string[] = [];
    for await (const key of await this.#review.keys()) keys.push(key);
    const out: PaymentSessionDetail[] = [];
    for (const key of keys) {
      // Only a session that is gone, or has left review, takes its index entry with it: a read
      // that fails propagates (it is not "not in review").
      const d = await this.detail(key).catch(notFoundAsUndefined);
      if (d?.session.state === "review") out.push(d);
      else {
        await this.#review.delete(key).catch((err) =>
          // Tidying only: the entry is looked at (and removed) again next time.
          this.#o.logger?.log("warn", "a stale review index entry could not be removed", {
            sessionId: key,
            error: String(err),
          })
        );
      }
    }
    out.sort((a, b) => a.session.updatedAt - b.session.updatedAt);
    return out.slice(0, options.limit ?? 500);
  }

  /**
   * The sessions that changed most recently, newest first: read from the last `window` events of
   * the PAYMENTS stream (default 2,000), so it costs the same with a million sessions.
   */
  async recent(
    options: { readonly limit?: number; readonly window?: number } = {},
  ): Promise<PaymentSessionDetail[]> {
    const limit = options.limit ?? 50;
    const stream = streamName("PAYMENTS", this.#o.region);
    const info = await (await jetstreamManager(this.#nc)).streams.info(stream);
    const last = info.state.last_seq;
    if (info.state.messages === 0) return [];
    const start = Math.max(info.state.first_seq, last - (options.window ?? 2000) + 1);
    const consumer = await jetstream(this.#nc).consumers.get(stream, {
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: start,
    });
    const order = new Map<string, number>();
    let seen = 0;
    while (seen < last - start + 1) {
      const batch = await consumer.fetch({ max_messages: 500, expires: 1000 });
      let n = 0;
      for await (const m of batch) {
        n++;
        seen = m.seq - start + 1;
        order.set(paymentSubjectParts(m.subject).sessionId, m.seq);
        if (m.seq >= last) break;
      }
      if (n === 0) break;
    }
    const ids = [...order.entries()].sort((a, b) => b[1] - a[1]).slice(0, limit).map(([id]) => id);
    const out: PaymentSessionDetail[] = [];
    for (const id of ids) {
      const d = await this.detail(id).catch(notFoundAsUndefined);
      if (d) out.push(d);
    }
    return out;
  }

  /**
   * Checks the books: every ledger transaction balances and is recorded once, and every session's
   * money is where its state says (see `checkLedger`). Returns the discrepancies (none: all
   * right).
   */
  async checkLedger(): Promise<string[]> {
    return (await checkPaymentBooks(this.#nc)).discrepancies;
  }

  /** A provider call, tried again (same idempotency key) while the provider is unavailable. */
  async #call<T>(work: () => Promise<T>): Promise<T> {
    const attempts = this.#o.attempts ?? 3;
    let delay = this.#o.retryDelayMs ?? 100;
    for (let i = 1;; i++) {
      try {
        return await work();
      } catch (e) {
        if (!(e instanceof ProviderUnavailableError) || i >= attempts) throw e;
        await new Promise((r) => setTimeout(r, delay));
        delay *= 2;
      }
    }
  }

  #event(
    s: { sessionId: string; machineId: string; currency: string },
    step: number,
    body: EventBody,
  ): PaymentEvent {
    const event = {
      v: 1,
      id: `${s.sessionId.slice(0, 56)}-s${step}`,
      ts: this.#now(),
      sessionId: s.sessionId,
      machineId: s.machineId,
      currency: s.currency,
      ...body,
    } as PaymentEvent;
    paymentEvent.encode(event); // throws TypeError naming a bad field
    return event;
  }

  /**
   * Applies the event `build` makes of the current session, under compare-and-swap; `build`
   * returns null when the step is already done (by this call's earlier try or someone else).
   */
  async #advance(
    sessionId: string,
    build: (s: PaymentSession, stored: Stored) => EventBody | null,
    extra?: (stored: Stored) => Partial<Stored>,
  ): Promise<PaymentSession> {
    for (let attempt = 0; attempt < 50; attempt++) {
      const e = await this.#sessions.get(sessionId);
      if (!e || e.operation !== "PUT") throw new PaymentNotFoundError(`session ${sessionId}`);
      const stored = e.json<Stored>();
      const body = build(stored.session, stored);
      if (!body) return stored.session;
      const event = this.#event(stored.session, stored.session.steps + 1, body);
      const session = applyPaymentEvent(stored.session, event);
      const next: Stored = { ...stored, ...extra?.(stored), session, lastEvent: event };
      try {
        await this.#sessions.update(sessionId, encoder.encode(JSON.stringify(next)), e.revision);
      } catch (err) {
        if (isRevisionConflict(err)) continue;
        throw err;
      }
      if (session.state === "review" && stored.session.state !== "review") {
        await this.#review.put(sessionId, encoder.encode(String(session.updatedAt)));
      } else if (session.state !== "review" && stored.session.state === "review") {
        await this.#review.delete(sessionId);
      }
      await this.#publish(event);
      return session;
    }
    throw new PaymentConflictError(`Session ${sessionId} is changing too often; try again`);
  }

  async #publish(event: PaymentEvent): Promise<void> {
    await jetstream(this.#nc).publish(
      subjects.payment({ region: this.#o.region, sessionId: event.sessionId }, event.type),
      paymentEvent.encode(event),
      { msgID: event.id },
    );
  }

  /**
   * Finishes what a crash or an unavailable provider left undone: a session started but not
   * held, held but not unlocked, or with its cart known but not captured. A session still waiting
   * for its cart when its hold is about to lapse (the machine has been offline for days) goes to
   * review with the reason. Returns how many sessions it moved.
   */
  async reconcile(
    options: { readonly olderThanMs?: number; readonly expiryMarginMs?: number } = {},
  ): Promise<number> {
    const now = this.#now();
    const cutoff = now - (options.olderThanMs ?? 30_000);
    const margin = options.expiryMarginMs ?? 86_400_000;
    let moved = 0;
    for await (const key of await this.#sessions.keys()) {
      const e = await this.#sessions.get(key);
      if (e?.operation !== "PUT") continue;
      const { session: s, holdExpiresAt, lineConfidence } = e.json<Stored>();
      if (s.updatedAt > cutoff) continue;
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
        after = await this.#drive(s.sessionId).catch(unmoved("drive"));
      } else if (s.state === "review" && !(await this.#review.get(s.sessionId))) {
        // The index write was lost (a crash after the state write): the queue shows it again.
        await this.#review.put(s.sessionId, encoder.encode(String(s.updatedAt)));
      }
      if (s.state === "review" && s.updatedAt < now - this.#reviewAfterMs()) {
        after = await this.#reviewTimedOut(s.sessionId, lineConfidence).catch(
          unmoved("review timeout"),
        );
      } else if (s.state === "unlocked" && holdExpiresAt && holdExpiresAt - now < margin) {
        after = await this.#advance(s.sessionId, (x) =>
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
      if (after.steps !== s.steps) moved++;
    }
    return moved;
  }

  /**
   * Consumes the region's door-session outcomes (a durable consumer shared by the cloud
   * instances) until `signal` aborts; a message is acknowledged once its step is stored, so a
   * crash before that redelivers it.
   */
  async run(signal: AbortSignal): Promise<void> {
    const jsm = await jetstreamManager(this.#nc);
    const stream = streamName("EVENTS", this.#o.region);
    await jsm.consumers.add(stream, {
      durable_name: "payments",
      ack_policy: AckPolicy.Explicit,
      // A handler still at work says so (below); one that died is redelivered after this.
      ack_wait: nanos(15_000),
      filter_subject: filters.pipelineEvents({ region: this.#o.region }, "session_completed"),
    }).catch((err) => {
      // Already there (another instance made it): used as is. Anything else is said; reading the
      // consumer below fails on its own if it is really missing.
      if (isConsumerExists(err)) return;
      this.#o.logger?.log("warn", "the payments consumer could not be made", {
        stream,
        error: String(err),
      });
    });
    const consumer = await jetstream(this.#nc).consumers.get(stream, "payments");
    let current: { stop(): void } | undefined;
    signal.addEventListener("abort", () => current?.stop(), { once: true });
    const payments = streamName("PAYMENTS", this.#o.region);
    /** The device the session's unlock went to: only its cart counts. */
    const unlockedDevice = async (sessionId: string) => {
      // From the stream's leader (a Direct Get may be answered by a replica that is behind, and
      // a missing unlock would let any device's cart through); a failed read is redelivered.
      const u = await jsm.streams.getMessage(payments, {
        last_by_subj: subjects.payment({ region: this.#o.region, sessionId }, "unlock_sent"),
      });
      const e = u ? parsePaymentEvent(u.data) : undefined;
      return e?.ok && e.value.type === "unlock_sent" ? e.value.deviceId : undefined;
    };
    const handle = async (m: JsMsg) => {
      const e = parsePipelineEvent(m.data);
      const sender = deviceSubjectParts(m.subject).deviceId;
      if (e.ok && e.value.type === "session_completed") {
        let unlocked: string | undefined;
        try {
          unlocked = await unlockedDevice(e.value.sessionId);
        } catch (err) {
          if (!isTransientNatsError(err)) throw err;
          this.#o.logger?.log("warn", "cart's unlock could not be read; it is redelivered", {
            sessionId: e.value.sessionId,
            error: String(err),
          });
          m.nak(2000);
          return;
        }
        if (unlocked !== undefined && unlocked !== sender) {
          // A cart from another device than the one unlocked (a stolen device that learnt a
          // session id): never charged.
          const reason = `cart for ${e.value.sessionId} from ${sender}, unlocked at ${unlocked}`;
          this.#o.logger?.log("warn", "cart refused: not from the unlocked device", { reason });
          const entry: AuditEntry = {
            ...newEnvelope(),
            actor: { subject: `device:${sender}`, role: "device" },
            action: "payment.cart_refused",
            target: `session/${e.value.sessionId}`,
            outcome: "refused",
            requestId: e.value.id,
            before: null,
            after: null,
            reason: reason.slice(0, 200),
          };
          await jetstream(this.#nc).publish(
            subjects.audit(this.#o.region, entry.action),
            auditEntry.encode(entry),
          ).catch((err) =>
            // The cart is refused all the same (and logged above); the audit entry is lost.
            this.#o.logger?.log("warn", "cart refusal not audited", {
              target: entry.target,
              error: String(err),
            })
          );
          m.term();
          return;
        }
      }
      if (e.ok && e.value.type === "session_completed") {
        const working = setInterval(() => m.working(), 5000);
        try {
          const session = await this.cartArrived(e.value);
          if (session === undefined && m.info.deliveryCount < 5) {
            // No such session, as read: a replica that is behind (a region just came back)
            // may say so about one that exists. Again in a moment, a few times.
            m.nak(2000);
            return;
          }
        } catch (err) {
          if (err instanceof ProviderUnavailableError || isTransientNatsError(err)) {
            // The provider, or NATS (a region coming back, a leader moving): again later.
            this.#o.logger?.log("warn", "cart handling failed; it is redelivered", {
              sessionId: e.value.sessionId,
              error: String(err),
            });
            m.nak(2000);
            return;
          }
          // Anything else will not change on a redelivery; the reconciler and the review queue
          // take it from here.
          this.#o.logger?.log("error", "cart not recorded", {
            sessionId: e.value.sessionId,
            error: String(err),
          });
        } finally {
          clearInterval(working);
        }
      }
      m.ack();
    };
    const limit = this.#o.concurrency ?? 32;
    while (!signal.aborted) {
      try {
        const batch = await consumer.fetch({ max_messages: 128, expires: 1000 });
        current = batch;
        // Sessions are independent: several at once (a repeat of one is safe: compare-and-swap).
        const inflight = new Set<Promise<void>>();
        for await (const m of batch) {
          const job: Promise<void> = handle(m).catch((err) =>
            // Unacknowledged, the message comes again after the ack wait.
            this.#o.logger?.log("error", "cart handling failed; it comes again", {
              subject: m.subject,
              error: String(err),
            })
          ).finally(() => inflight.delete(job));
          inflight.add(job);
          if (inflight.size >= limit) await Promise.race(inflight);
        }
        await Promise.all(inflight);
      } catch (err) {
        if (signal.aborted) break;
        this.#o.logger?.log("warn", "door-session outcomes could not be fetched; trying again", {
          stream,
          error: String(err),
        });
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }
}

/** For a read whose "no such session" means "skip it": that is undefined, anything else throws. */
function notFoundAsUndefined(e: unknown): undefined {
  if (e instanceof PaymentNotFoundError) return undefined;
  throw e;
}

/** A provider's hold id as a KV key (ids with other characters are hex-encoded). */
function holdKey(holdId: string): string {
  return /^[A-Za-z0-9_-]{1,200}$/.test(holdId)
    ? holdId
    : `x${[...encoder.encode(holdId)].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** How a session's state maps to where its money must be in the ledger. */
function booksOf(s: PaymentSession): SessionBooks {
  return {
    sessionId: s.sessionId,
    state: s.state === "settled" || s.state === "failed"
      ? "settled"
      : s.state === "declined" || s.state === "started"
      ? "declined"
      : s.state === "review"
      ? "review"
      : "awaiting",
    hold: s.hold?.amount ?? 0,
    captured: s.captured,
    refunded: s.refunded,
  };
}

/**
 * Reads every payment session and ledger transaction from NATS and checks the books (what
 * `./vend ledger check` prints): every transaction balances and is recorded once, every
 * settled session holds nothing, every session in review or waiting for its cart holds its hold.
 */
export async function checkPaymentBooks(
  nc: NatsConnection,
): Promise<{ sessions: number; transactions: number; discrepancies: string[] }> {
  const open = (bucket: string) => openKv(nc, bucket, { history: 1 });
  const sessions = (await readAll<Stored>(await open(buckets.paymentSessions))).map((x) =>
    x.session
  );
  const transactions = await readAll<LedgerTransaction>(await open(buckets.ledger));
  return {
    sessions: sessions.length,
    transactions: transactions.length,
    discrepancies: checkLedger(transactions, sessions.map(booksOf)),
  };
}

/** Every value of a bucket. */
async function readAll<T>(kv: KV): Promise<T[]> {
  const out: T[] = [];
  for await (const key of await kv.keys()) {
    const e = await kv.get(key);
    if (e?.operation === "PUT") out.push(e.json<T>());
  }
  return out;
}

/** The payment method a session uses: the one asked for, else the default, else the newest. */
function methodOf(
  customer: Customer,
  paymentMethodId: string | undefined,
): PaymentMethod | undefined {
  const chosen = paymentMethodId ?? customer.defaultPaymentMethodId;
  return chosen
    ? customer.paymentMethods.find((m) => m.paymentMethodId === chosen)
    : customer.paymentMethods.at(-1);
}
