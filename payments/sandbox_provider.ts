/**
 * The sandbox payment provider: a simulated provider (no money moves) that behaves like a real
 * one for everything the payment flow depends on: holds that expire, captures of part of a hold
 * (the rest released), cancels, refunds up to what was captured, idempotency keys, and declines
 * chosen by the payment method token (`pm_sandbox_visa` succeeds; a token containing `declined`,
 * `insufficient` or `expired` is refused that way). Timeouts and network errors, before or after
 * the provider did the work, are injected by configuration. Its state lives in a
 * {@link SandboxStore} (a NATS KV bucket in the cloud), so a restart does not forget a hold, and
 * every write is a compare-and-swap, so two callers racing on one hold cannot both win.
 *
 * @example
 * ```ts
 * import { MemorySandboxStore, SandboxProvider } from "./sandbox_provider.ts";
 *
 * const provider = new SandboxProvider(new MemorySandboxStore());
 * const hold = await provider.authorize({
 *   paymentMethod: "pm_sandbox_visa", amount: 2000, currency: "EUR", idempotencyKey: "s1:hold",
 * });
 * const capture = await provider.capture({ holdId: hold.holdId, amount: 350, idempotencyKey: "s1:cap" });
 * console.log(capture.released); // 1650
 * ```
 *
 * @module
 */
import {
  type Capture,
  checkAmount,
  type DeclineCode,
  type Hold,
  PaymentDeclinedError,
  type PaymentProvider,
  ProviderUnavailableError,
  type Refund,
} from "./payment_provider.ts";
import { sha256Hex } from "../protocol/mod.ts";

/** Where the sandbox keeps its state: keys to strings, each with a revision. */
export interface SandboxStore {
  /** The value and revision under `key`, or undefined. */
  get(key: string): Promise<{ value: string; revision: number } | undefined>;
  /** Stores `value` when `key` does not exist; false when it does. */
  create(key: string, value: string): Promise<boolean>;
  /** Replaces the value when its revision is still `revision`; false when it is not. */
  update(key: string, value: string, revision: number): Promise<boolean>;
}

/** A {@link SandboxStore} in memory (tests; a process's lifetime). */
export class MemorySandboxStore implements SandboxStore {
  readonly #map = new Map<string, { value: string; revision: number }>();
  #revision = 0;

  /** The value and revision under `key`. */
  get(key: string): Promise<{ value: string; revision: number } | undefined> {
    return Promise.resolve(this.#map.get(key));
  }

  /** Stores `value` unless `key` exists. */
  create(key: string, value: string): Promise<boolean> {
    if (this.#map.has(key)) return Promise.resolve(false);
    this.#map.set(key, { value, revision: ++this.#revision });
    return Promise.resolve(true);
  }

  /** Replaces the value at `revision`. */
  update(key: string, value: string, revision: number): Promise<boolean> {
    if (this.#map.get(key)?.revision !== revision) return Promise.resolve(false);
    this.#map.set(key, { value, revision: ++this.#revision });
    return Promise.resolve(true);
  }
}

/** A provider operation. */
export type SandboxOperation = "authorize" | "capture" | "cancel" | "refund";

/**
 * An injected fault: `network` fails before the provider does anything, `timeout` does the same
 * after `timeoutMs`, `timeout_after_success` does the work and then loses the answer, `decline`
 * refuses.
 */
export interface SandboxFault {
  readonly kind: "network" | "timeout" | "timeout_after_success" | "decline";
  /** How many calls it affects. Default 1. */
  readonly times?: number;
}

const OPERATIONS: readonly SandboxOperation[] = ["authorize", "capture", "cancel", "refund"];
const FAULT_KINDS: readonly SandboxFault["kind"][] = [
  "network",
  "timeout",
  "timeout_after_success",
  "decline",
];

/**
 * Reads faults from configuration text (the cloud's `VEND_SANDBOX_FAULTS`):
 * `OPERATION:KIND[*TIMES]`, comma-separated, e.g. `capture:timeout_after_success,authorize:decline*3`.
 * Throws RangeError naming the part that is wrong.
 */
export function parseSandboxFaults(spec: string): Partial<Record<SandboxOperation, SandboxFault>> {
  const out: Partial<Record<SandboxOperation, SandboxFault>> = {};
  for (const part of spec.split(",").map((p) => p.trim()).filter(Boolean)) {
    const m = /^([a-z]+):([a-z_]+)(?:\*(\d{1,6}))?$/.exec(part);
    const op = m?.[1] as SandboxOperation | undefined;
    const kind = m?.[2] as SandboxFault["kind"] | undefined;
    if (!m || !OPERATIONS.includes(op!) || !FAULT_KINDS.includes(kind!) || m[3] === "0") {
      throw new RangeError(
        `Invalid sandbox fault "${part}": expected OPERATION:KIND[*TIMES] with OPERATION one of ${
          OPERATIONS.join(", ")
        } and KIND one of ${FAULT_KINDS.join(", ")}`,
      );
    }
    out[op!] = { kind: kind!, ...(m[3] ? { times: Number(m[3]) } : {}) };
  }
  return out;
}

/** Options of {@link SandboxProvider}. */
export interface SandboxProviderOptions {
  /** How long a hold lasts, ms. Default 7 days. */
  readonly holdTtlMs?: number;
  /** How long an injected timeout waits, ms. Default 50. */
  readonly timeoutMs?: number;
  /** Faults per operation, consumed call by call. */
  readonly faults?: Partial<Record<SandboxOperation, SandboxFault>>;
  /** Clock, Unix ms. Default `Date.now`. */
  readonly now?: () => number;
}

interface HoldRecord {
  holdId: string;
  paymentMethod: string;
  amount: number;
  currency: string;
  expiresAt: number;
  status: "authorized" | "captured" | "canceled";
  captured: number;
  refunded: number;
  /** The idempotency key of the capture or cancel that settled the hold. */
  settledBy?: string;
  /** Refunds by idempotency key. */
  refunds: Record<string, number>;
}

type Outcome =
  | { ok: true; result: unknown }
  | { ok: false; code: DeclineCode; message: string };

/** The sandbox provider (simulated; the default for the demo and tests). */
export class SandboxProvider implements PaymentProvider {
  /** Provider name. */
  readonly name = "sandbox";
  readonly #store: SandboxStore;
  readonly #options: SandboxProviderOptions;
  readonly #faults = new Map<SandboxOperation, { kind: SandboxFault["kind"]; left: number }>();

  /** Creates the provider over `store`. */
  constructor(store: SandboxStore, options: SandboxProviderOptions = {}) {
    this.#store = store;
    this.#options = options;
    for (const [op, f] of Object.entries(options.faults ?? {})) {
      this.inject(op as SandboxOperation, f);
    }
  }

  /** Injects a fault into the next calls of `op` (configuration at run time, for tests). */
  inject(op: SandboxOperation, fault: SandboxFault): void {
    this.#faults.set(op, { kind: fault.kind, left: fault.times ?? 1 });
  }

  #now(): number {
    return (this.#options.now ?? Date.now)();
  }

  /**
   * Runs `work` for an idempotency key, with the injected faults of `op`. The work itself is
   * idempotent by key (a hold remembers which key settled it and which refunds it had), so two
   * callers racing with one key both see the one outcome; the first outcome is also kept, so a
   * repeat answers as the first call did.
   */
  async #once<T>(op: SandboxOperation, key: string, work: () => Promise<T>): Promise<T> {
    if (typeof key !== "string" || key.length < 1 || key.length > 255) {
      throw new TypeError(`Invalid idempotency key ${JSON.stringify(key)}: 1-255 characters`);
    }
    const fault = this.#faults.get(op);
    let kind: SandboxFault["kind"] | undefined;
    if (fault && fault.left > 0) {
      fault.left--;
      kind = fault.kind;
    }
    if (kind === "network") {
      throw new ProviderUnavailableError(`Sandbox ${op}: connection reset (injected)`);
    }
    if (kind === "timeout") {
      await new Promise((r) => setTimeout(r, this.#options.timeoutMs ?? 50));
      throw new ProviderUnavailableError(`Sandbox ${op}: timed out (injected)`);
    }
    if (kind === "decline") {
      throw new PaymentDeclinedError("card_declined", `Sandbox ${op}: declined (injected)`);
    }
    const idem = `idem.${op}.${await sha256Hex(key)}`;
    const stored = await this.#store.get(idem);
    let outcome: Outcome;
    if (stored) outcome = JSON.parse(stored.value) as Outcome;
    else {
      try {
        outcome = { ok: true, result: await work() };
      } catch (e) {
        if (!(e instanceof PaymentDeclinedError)) throw e;
        outcome = { ok: false, code: e.code, message: e.message };
      }
      // The first answer for a key is the answer for every repeat of it.
      if (!(await this.#store.create(idem, JSON.stringify(outcome)))) {
        outcome = JSON.parse((await this.#store.get(idem))!.value) as Outcome;
      }
    }
    if (kind === "timeout_after_success") {
      throw new ProviderUnavailableError(
        `Sandbox ${op}: timed out after the work was done (injected)`,
      );
    }
    if (!outcome.ok) throw new PaymentDeclinedError(outcome.code, outcome.message);
    return outcome.result as T;
  }

  async #hold(holdId: string): Promise<{ hold: HoldRecord; revision: number }> {
    const got = await this.#store.get(`hold.${holdId}`);
    if (!got) throw new PaymentDeclinedError("invalid_request", `No such hold "${holdId}"`);
    return { hold: JSON.parse(got.value) as HoldRecord, revision: got.revision };
  }

  /** Changes a hold with compare-and-swap; `change` throws to refuse. */
  async #change(holdId: string, change: (h: HoldRecord) => void): Promise<HoldRecord> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const { hold, revision } = await this.#hold(holdId);
      change(hold);
      if (await this.#store.update(`hold.${holdId}`, JSON.stringify(hold), revision)) return hold;
    }
    throw new ProviderUnavailableError(`Sandbox: hold "${holdId}" is too busy`);
  }

  /** Places a hold. */
  authorize(request: Parameters<PaymentProvider["authorize"]>[0]): Promise<Hold> {
    checkAmount(request.amount, "hold amount");
    if (request.amount === 0) throw new RangeError("Invalid hold amount 0: expected at least 1");
    return this.#once("authorize", request.idempotencyKey, async () => {
      const pm = request.paymentMethod;
      if (!/^pm_sandbox_[a-z0-9_]{1,64}$/.test(pm)) {
        // Never echo what was sent: it might be a card number.
        throw new PaymentDeclinedError(
          "invalid_request",
          "Unknown payment method: expected a sandbox token (pm_sandbox_...)",
        );
      }
      if (pm.includes("declined")) throw new PaymentDeclinedError("card_declined", "Card declined");
      if (pm.includes("insufficient")) {
        throw new PaymentDeclinedError("insufficient_funds", "Insufficient funds");
      }
      if (pm.includes("expired")) throw new PaymentDeclinedError("expired_card", "Card expired");
      const hold: HoldRecord = {
        holdId: `hold_${(await sha256Hex(request.idempotencyKey)).slice(0, 24)}`,
        paymentMethod: pm,
        amount: request.amount,
        currency: request.currency,
        expiresAt: this.#now() + (this.#options.holdTtlMs ?? 7 * 86_400_000),
        status: "authorized",
        captured: 0,
        refunded: 0,
        refunds: {},
      };
      // The id comes from the key: a racing repeat finds the same hold.
      await this.#store.create(`hold.${hold.holdId}`, JSON.stringify(hold));
      return {
        holdId: hold.holdId,
        amount: hold.amount,
        currency: hold.currency,
        expiresAt: hold.expiresAt,
      };
    });
  }

  /** Captures part or all of a hold, once. */
  capture(request: Parameters<PaymentProvider["capture"]>[0]): Promise<Capture> {
    checkAmount(request.amount, "capture amount");
    if (request.amount === 0) {
      throw new RangeError("Invalid capture amount 0: cancel the hold instead");
    }
    return this.#once("capture", request.idempotencyKey, async () => {
      const key = request.idempotencyKey;
      const hold = await this.#change(request.holdId, (h) => {
        if (h.status === "captured" && h.settledBy === key) return; // this very capture, again
        if (h.status !== "authorized") {
          throw new PaymentDeclinedError("invalid_request", `Hold "${h.holdId}" is ${h.status}`);
        }
        if (this.#now() > h.expiresAt) {
          throw new PaymentDeclinedError("hold_expired", `Hold "${h.holdId}" expired`);
        }
        if (request.amount > h.amount) {
          throw new PaymentDeclinedError(
            "invalid_request",
            `Cannot capture ${request.amount}: the hold is ${h.amount}`,
          );
        }
        h.status = "captured";
        h.captured = request.amount;
        h.settledBy = key;
      });
      return { holdId: hold.holdId, amount: hold.captured, released: hold.amount - hold.captured };
    });
  }

  /** Releases a hold. */
  async cancel(request: Parameters<PaymentProvider["cancel"]>[0]): Promise<void> {
    await this.#once("cancel", request.idempotencyKey, async () => {
      await this.#change(request.holdId, (h) => {
        if (h.status === "captured") {
          throw new PaymentDeclinedError("invalid_request", `Hold "${h.holdId}" is captured`);
        }
        if (h.status === "authorized") {
          h.status = "canceled";
          h.settledBy = request.idempotencyKey;
        }
      });
      return null;
    });
  }

  /** Refunds part of a capture. */
  refund(request: Parameters<PaymentProvider["refund"]>[0]): Promise<Refund> {
    checkAmount(request.amount, "refund amount");
    if (request.amount === 0) throw new RangeError("Invalid refund amount 0: expected at least 1");
    return this.#once("refund", request.idempotencyKey, async () => {
      const key = request.idempotencyKey;
      const hold = await this.#change(request.holdId, (h) => {
        if (h.refunds[key] !== undefined) return; // this very refund, again
        if (h.status !== "captured") {
          throw new PaymentDeclinedError("invalid_request", `Hold "${h.holdId}" is not captured`);
        }
        if (h.refunded + request.amount > h.captured) {
          throw new PaymentDeclinedError(
            "invalid_request",
            `Cannot refund ${request.amount}: ${h.captured - h.refunded} of ${h.captured} is left`,
          );
        }
        h.refunded += request.amount;
        h.refunds[key] = request.amount;
      });
      return {
        refundId: `re_${(await sha256Hex(request.idempotencyKey)).slice(0, 24)}`,
        holdId: hold.holdId,
        amount: request.amount,
      };
    });
  }

  /** A hold as the sandbox sees it (tests and the ledger check). */
  async inspect(holdId: string): Promise<Readonly<HoldRecord>> {
    return (await this.#hold(holdId)).hold;
  }
}
