/**
 * The customers and their payment methods (provider tokens only), in the `customers` bucket,
 * changed by compare-and-swap.
 *
 * @module
 */
import { getLatest, openKv } from "../nats/mod.ts";
import type { NatsConnection } from "@nats-io/nats-core";
import type { KV } from "@nats-io/kv";
import type { PaymentProvider } from "../../payments/mod.ts";
import { buckets, newMessageId } from "../../protocol/mod.ts";
import { PaymentConflictError, PaymentNotFoundError } from "./_payment_errors.ts";
import { compareAndSwap, CompareAndSwapExhaustedError } from "../../runtime/mod.ts";

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

/** Options of {@link CustomerRegistry.open}. */
export interface CustomerRegistryOptions {
  /** The payment provider, whose name is recorded with each payment method. */
  readonly provider: PaymentProvider;
  /** Clock, Unix ms. */
  readonly now: () => number;
}

const encoder = new TextEncoder();
const TOKEN = /^(pm|tok|card|src)_[A-Za-z0-9_]{3,96}$/;
/** An email address, loosely (the one-time code proves it). */
export const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,190}$/;
/** A phone number in E.164. */
export const PHONE = /^\+[1-9][0-9]{6,14}$/;

/** The customers bucket: the only writer of customers. */
export class CustomerRegistry {
  readonly #customers: KV;
  readonly #o: CustomerRegistryOptions;

  private constructor(customers: KV, o: CustomerRegistryOptions) {
    this.#customers = customers;
    this.#o = o;
  }

  /** Opens the registry (creating its bucket when missing). */
  static async open(
    nc: NatsConnection,
    options: CustomerRegistryOptions,
  ): Promise<CustomerRegistry> {
    // A customer registered here is read back at once (adding its card) while the region's
    // mirror may not have it yet.
    return new CustomerRegistry(await openKv(nc, buckets.customers, { history: 1 }), options);
  }

  /** Registers a customer by email or phone number (E.164, `+34600111222`). */
  async register(
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
      customerId: `cus-${newMessageId(this.#o.now())}`,
      email: input.email ?? null,
      phone: input.phone ?? null,
      createdAt: this.#o.now(),
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
    await this.#change(customerId, (c) => {
      added = c.paymentMethods.find((m) => m.token === input.token);
      if (added) return c;
      added = {
        paymentMethodId: `pmt-${newMessageId(this.#o.now())}`,
        token: input.token,
        provider: this.#o.provider.name,
        addedAt: this.#o.now(),
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
  async #change(customerId: string, change: (c: Customer) => Customer): Promise<Customer> {
    try {
      const written = await compareAndSwap<Customer>(
        { kv: this.#customers, key: customerId },
        (c) => {
          if (!c) throw new PaymentNotFoundError(`customer ${customerId}`);
          return change(c);
        },
        {
          attempts: 20,
          // Changed meanwhile, or this region's mirror is behind the original: read again soon.
          delayMs: (attempt) => 10 * attempt,
        },
      );
      return written.value;
    } catch (e) {
      if (!(e instanceof CompareAndSwapExhaustedError)) throw e;
      throw new PaymentConflictError(`Customer ${customerId} is changing too often; try again`, {
        cause: e,
      });
    }
  }

  /** Removes a payment method (sessions already held on it go on). */
  async removePaymentMethod(customerId: string, paymentMethodId: string): Promise<Customer> {
    return await this.#change(customerId, (c) => {
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
    return await this.#change(customerId, (c) => {
      if (!c.paymentMethods.some((m) => m.paymentMethodId === paymentMethodId)) {
        throw new PaymentNotFoundError(
          `payment method ${paymentMethodId} of customer ${customerId}`,
        );
      }
      return { ...c, defaultPaymentMethodId: paymentMethodId };
    });
  }
}

/** The payment method a session uses: the one asked for, else the default, else the newest. */
export function methodOf(
  customer: Customer,
  paymentMethodId: string | undefined,
): PaymentMethod | undefined {
  const chosen = paymentMethodId ?? customer.defaultPaymentMethodId;
  return chosen
    ? customer.paymentMethods.find((m) => m.paymentMethodId === chosen)
    : customer.paymentMethods.at(-1);
}
