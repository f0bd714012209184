/**
 * Customers sign up and sign in without passwords: a six-digit one-time code sent to their email
 * or phone (through a {@link CodeSender}), valid 10 minutes, at most 5 wrong tries before the
 * contact is locked for 15 minutes, and one code per 30 s. A first sign-in registers the
 * customer. The session is a signed token (HS256, 30 days) carrying the customer's sign-in
 * generation: "sign out everywhere" bumps it, and every older token stops working. Codes are
 * kept only as hashes; contacts are keyed by their hash. All state is in NATS KV.
 *
 * @example
 * ```ts
 * import { CustomerAuth } from "./customer_auth.ts";
 *
 * declare const auth: CustomerAuth;
 * await auth.requestCode("ada@example.com"); // the sender delivers 123456
 * const { customer, token } = await auth.verifyCode("ada@example.com", "123456");
 * await auth.verify(token); // the customer
 * ```
 *
 * @module
 */
import { openKv } from "../nats/mod.ts";
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { jwtVerify, SignJWT } from "jose";
import { buckets, sha256Hex } from "../../protocol/mod.ts";
import type { CodeSender } from "./code_sender.ts";
import { compareAndSwap, isRevisionConflict, type Logger, retry } from "../../runtime/mod.ts";
import {
  type Customer,
  EMAIL,
  PaymentNotFoundError,
  type PaymentService,
  PHONE,
} from "../checkout/mod.ts";

/** Options of {@link CustomerAuth.open}. */
export interface CustomerAuthOptions {
  readonly payments: PaymentService;
  readonly sender: CodeSender;
  /** Clock, Unix ms. */
  readonly now?: () => number;
  /** How long a code is valid, ms. Default 10 minutes. */
  readonly codeTtlMs?: number;
  /** Wrong codes allowed before the contact is locked. Default 5. */
  readonly maxAttempts?: number;
  /** How long a contact stays locked, ms. Default 15 minutes. */
  readonly lockMs?: number;
  /** Least time between two codes to one contact, ms. Default 30 s. */
  readonly resendAfterMs?: number;
  /** Session length, seconds. Default 30 days. */
  readonly sessionTtlS?: number;
  /** Where failures that do not stop a request are logged. */
  readonly logger?: Logger;
}

/** The code is wrong or expired; `attemptsLeft` more tries before the lock. */
export class InvalidCodeError extends Error {
  /** Tries left. */
  readonly attemptsLeft: number;
  /** Creates the error. */
  constructor(message: string, attemptsLeft: number) {
    super(message);
    this.name = "InvalidCodeError";
    this.attemptsLeft = attemptsLeft;
  }
}

/** Too many wrong codes, or codes asked too often: wait `retryAfterMs`. */
export class CodeThrottledError extends Error {
  /** How long to wait, ms. */
  readonly retryAfterMs: number;
  /** Creates the error. */
  constructor(message: string, retryAfterMs: number) {
    super(message);
    this.name = "CodeThrottledError";
    this.retryAfterMs = retryAfterMs;
  }
}

/** The code could not be delivered (the mail server refused it, no SMS sender...). */
export class CodeDeliveryError extends Error {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CodeDeliveryError";
  }
}

/** A customer token that is forged, expired or signed out. */
export class CustomerAuthError extends Error {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CustomerAuthError";
  }
}

interface CodeRecord {
  codeHash: string;
  expiresAt: number;
  sentAt: number;
  attempts: number;
  lockedUntil: number;
}

const ISSUER = "vendstream";
const AUDIENCE = "vendstream-app";

/** An email (lower-cased) or a phone number (spaces and dashes removed); TypeError otherwise. */
export function normalizeContact(contact: string): string {
  const trimmed = contact.trim();
  if (EMAIL.test(trimmed)) return trimmed.toLowerCase();
  const phone = trimmed.replace(/[\s()-]/g, "");
  if (PHONE.test(phone)) return phone;
  throw new TypeError(
    `Invalid contact ${JSON.stringify(trimmed.slice(0, 80))}: expected an email address or a ` +
      "phone number with its country code (+34...)",
  );
}

/** One-time codes and customer sessions. */
export class CustomerAuth {
  readonly #o: CustomerAuthOptions;
  readonly #codes: KV;
  readonly #logins: KV;
  readonly #key: Uint8Array;

  private constructor(o: CustomerAuthOptions, codes: KV, logins: KV, key: Uint8Array) {
    this.#o = o;
    this.#codes = codes;
    this.#logins = logins;
    this.#key = key;
  }

  /** Opens the buckets and the signing key (shared by every cloud instance). */
  static async open(nc: NatsConnection, options: CustomerAuthOptions): Promise<CustomerAuth> {
    const codes = await openKv(nc, buckets.customerCodes, { history: 1, ttl: 86_400_000 });
    const logins = await openKv(nc, buckets.customerLogins, { history: 1 });
    const service = await openKv(nc, buckets.service, { history: 1 });
    let key = (await service.get("customer.jwt.key"))?.value;
    if (!key?.length) {
      try {
        key = crypto.getRandomValues(new Uint8Array(32));
        await service.create("customer.jwt.key", key);
      } catch (e) {
        if (!isRevisionConflict(e)) throw e;
        key = (await service.get("customer.jwt.key"))?.value; // another instance made it first
      }
    }
    if (!key?.length) throw new Error("Cannot create or read the customer token key");
    return new CustomerAuth(options, codes, logins, key);
  }

  #now(): number {
    return (this.#o.now ?? Date.now)();
  }

  /**
   * Sends a new code to `contact`. Throws TypeError for a contact that is neither an email nor a
   * phone number, {@link CodeThrottledError} when the contact is locked or asked too recently.
   */
  async requestCode(
    contact: string,
    options: { readonly language?: "en" | "es" } = {},
  ): Promise<void> {
    const to = normalizeContact(contact);
    const key = await sha256Hex(to);
    const now = this.#now();
    const e = await this.#codes.get(key);
    const old = e?.operation === "PUT" ? e.json<CodeRecord>() : undefined;
    if (old && old.lockedUntil > now) {
      throw new CodeThrottledError(
        "Too many wrong codes: wait before asking for a new one",
        old.lockedUntil - now,
      );
    }
    const resend = this.#o.resendAfterMs ?? 30_000;
    if (old && now - old.sentAt < resend) {
      throw new CodeThrottledError(
        "A code was sent moments ago: use it, or wait to ask again",
        resend - (now - old.sentAt),
      );
    }
    const code = String(crypto.getRandomValues(new Uint32Array(1))[0]! % 1_000_000).padStart(
      6,
      "0",
    );
    const record: CodeRecord = {
      codeHash: await sha256Hex(`${key}:${code}`),
      expiresAt: now + (this.#o.codeTtlMs ?? 600_000),
      sentAt: now,
      attempts: 0,
      lockedUntil: 0,
    };
    try {
      if (e) await this.#codes.update(key, JSON.stringify(record), e.revision);
      else await this.#codes.create(key, JSON.stringify(record));
    } catch (cause) {
      if (!isRevisionConflict(cause)) throw cause;
      throw new CodeThrottledError("A code was sent moments ago: use it", resend);
    }
    try {
      await this.#o.sender.send(to, { code, language: options.language ?? "en" });
    } catch (cause) {
      // Not delivered: no code stands, so the customer may ask again at once (if it cannot be
      // removed, they wait out the resend delay: said, and the delivery error stands).
      await this.#codes.delete(key).catch((e) =>
        this.#o.logger?.log("warn", "an undelivered code could not be removed", {
          error: String(e),
        })
      );
      throw new CodeDeliveryError(
        `Cannot send a code to ${to.includes("@") ? "this email address" : "this phone number"}`,
        { cause },
      );
    }
  }

  /**
   * Checks `code` for `contact` (a code works once) and signs the customer in, registering a
   * new one. Throws {@link InvalidCodeError} (wrong or expired) or {@link CodeThrottledError}
   * (locked).
   */
  async verifyCode(
    contact: string,
    code: string,
  ): Promise<{ customer: Customer; token: string; created: boolean }> {
    const to = normalizeContact(contact);
    const key = await sha256Hex(to);
    // Another try at the same code at once (a revision conflict): read it again.
    await retry(() => this.#tryCode(key, code), { attempts: 20, retryIf: isRevisionConflict })
      .catch((cause) => {
        if (!isRevisionConflict(cause)) throw cause;
        throw new CodeThrottledError("Too many attempts at once: try again", 1000);
      });
    const { customer, created } = await this.#customerFor(to);
    return { customer, created, token: await this.#issue(customer.customerId) };
  }

  /**
   * One try of `code` against the contact's record (`key`): resolves when it is right (and now
   * used up), else counts the wrong try and throws why; a revision conflict when it changed.
   */
  async #tryCode(key: string, code: string): Promise<void> {
    const max = this.#o.maxAttempts ?? 5;
    const now = this.#now();
    const e = await this.#codes.get(key);
    if (e?.operation !== "PUT") throw new InvalidCodeError("No code was sent to this contact", 0);
    const r = e.json<CodeRecord>();
    if (r.lockedUntil > now) {
      throw new CodeThrottledError(
        "Too many wrong codes: wait and ask for a new one",
        r.lockedUntil - now,
      );
    }
    const right = /^\d{6}$/.test(code) && r.codeHash === await sha256Hex(`${key}:${code}`);
    if (right && r.expiresAt > now) {
      // The code is used up (deleted under compare-and-swap: one sign-in per code).
      await this.#codes.delete(key, { previousSeq: e.revision });
      return;
    }
    const attempts = r.attempts + 1;
    const next: CodeRecord = {
      ...r,
      attempts,
      lockedUntil: attempts >= max ? now + (this.#o.lockMs ?? 900_000) : 0,
    };
    await this.#codes.update(key, JSON.stringify(next), e.revision);
    if (attempts >= max) {
      throw new CodeThrottledError(
        "Too many wrong codes: wait and ask for a new one",
        this.#o.lockMs ?? 900_000,
      );
    }
    throw new InvalidCodeError(
      right ? "That code has expired: ask for a new one" : "That code is not right",
      max - attempts,
    );
  }

  async #customerFor(contact: string): Promise<{ customer: Customer; created: boolean }> {
    const key = `c.${await sha256Hex(contact)}`;
    const known = await this.#logins.get(key);
    if (known?.operation === "PUT") {
      const customer = await this.#o.payments.customer(known.string()).catch((e) => {
        if (e instanceof PaymentNotFoundError) return undefined;
        throw e;
      });
      if (customer) return { customer, created: false };
    }
    const customer = await this.#o.payments.registerCustomer(
      contact.includes("@") ? { email: contact } : { phone: contact },
    );
    try {
      await this.#logins.create(key, customer.customerId);
      return { customer, created: true };
    } catch (cause) {
      if (!isRevisionConflict(cause)) throw cause;
      // Signed up twice at once: the first registration wins.
      const first = (await this.#logins.get(key))!.string();
      return { customer: await this.#o.payments.customer(first), created: false };
    }
  }

  async #generation(customerId: string): Promise<number> {
    const e = await this.#logins.get(`g.${customerId}`);
    return e?.operation === "PUT" ? Number(e.string()) : 0;
  }

  async #issue(customerId: string): Promise<string> {
    return await new SignJWT({ gen: await this.#generation(customerId) })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(customerId)
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(`${this.#o.sessionTtlS ?? 30 * 86_400}s`)
      .sign(this.#key);
  }

  /** The signed-in customer of a token; {@link CustomerAuthError} when it is not valid. */
  async verify(token: string): Promise<Customer> {
    let sub: string;
    let gen: unknown;
    try {
      const { payload } = await jwtVerify(token, this.#key, {
        issuer: ISSUER,
        audience: AUDIENCE,
        algorithms: ["HS256"],
      });
      if (typeof payload.sub !== "string") throw new Error("no subject");
      sub = payload.sub;
      gen = payload.gen;
    } catch (cause) {
      throw new CustomerAuthError(`Invalid customer session: ${(cause as Error).message}`, {
        cause,
      });
    }
    if (gen !== await this.#generation(sub)) {
      throw new CustomerAuthError("Invalid customer session: signed out everywhere");
    }
    return await this.#o.payments.customer(sub).catch((cause) => {
      throw new CustomerAuthError("Invalid customer session: no such customer", { cause });
    });
  }

  /**
   * Claims one press of Open (the form's nonce): `mine` when this call is the first, else the
   * session an earlier press started (or none yet, while it is starting).
   */
  async claimOpen(
    customerId: string,
    nonce: string,
  ): Promise<{ mine: boolean; sessionId?: string }> {
    const key = `o.${customerId}.${nonce}`;
    try {
      await this.#logins.create(key, "");
      return { mine: true };
    } catch (cause) {
      if (!isRevisionConflict(cause)) throw cause;
      const e = await this.#logins.get(key);
      const sessionId = e?.operation === "PUT" ? e.string() : "";
      return sessionId ? { mine: false, sessionId } : { mine: false };
    }
  }

  /** Records the session a claimed press of Open started. */
  async recordOpen(customerId: string, nonce: string, sessionId: string): Promise<void> {
    await this.#logins.put(`o.${customerId}.${nonce}`, sessionId);
  }

  /** Gives a claimed press back (nothing was started: the customer may press again). */
  async releaseOpen(customerId: string, nonce: string): Promise<void> {
    await this.#logins.delete(`o.${customerId}.${nonce}`);
  }

  /** Ends every session of the customer (every token issued so far stops working). */
  async signOutEverywhere(customerId: string): Promise<void> {
    // The generation is a number as text ("3"); 20 attempts over other changes of it.
    await compareAndSwap<number>(
      { kv: this.#logins, key: `g.${customerId}` },
      (gen) => (gen ?? 0) + 1,
      { encode: String, decode: (e) => Number(e.string()) },
    );
  }
}
