/**
 * A payment session as a state machine: the customer starts at a machine, the provider holds the
 * machine's maximum amount, the device is told to unlock, the device's cart arrives (or goes to a
 * review), the exact total is captured and the rest of the hold released, a receipt is issued;
 * refunds and disputes follow a settled session. {@link applyPaymentEvent} is the one way a
 * session changes: it takes the session and one payment event and returns the next session, or
 * throws {@link InvalidTransitionError} for an event the session's state does not allow (a second
 * capture, a cart before the unlock, a refund above what was captured). The cloud stores sessions
 * in a KV bucket with compare-and-swap and appends every event to a stream, so replaying a
 * session's events rebuilds it.
 *
 * ```
 * started -> held -> unlocked -> capturing -> settled
 *    |                   |          ^  |
 *    v                   |          |  v
 * declined               +-------> review
 * (any state that is not final -> failed, once its hold is settled)
 * ```
 *
 * @example
 * ```ts
 * import { applyPaymentEvent } from "./payment_session.ts";
 *
 * const base = {
 *   v: 1 as const, id: "evt-000001", ts: 0, sessionId: "pay-s0000001", machineId: "m001",
 *   currency: "EUR",
 * };
 * let s = applyPaymentEvent(undefined, { ...base, type: "session_started", customerId: "c0000001" });
 * s = applyPaymentEvent(s, { ...base, type: "hold_authorized", amount: 2000, holdId: "hold_1" });
 * console.log(s.state); // "held"
 * ```
 *
 * @module
 */
import type { PaymentEvent } from "../protocol/mod.ts";

/** Where a payment session is. */
export type PaymentState =
  | "started"
  | "held"
  | "unlocked"
  | "capturing"
  | "review"
  | "settled"
  | "declined"
  | "failed";

/** A line of a receipt. */
export interface ReceiptLine {
  readonly sku: string;
  readonly name: string;
  readonly qty: number;
  readonly unitPrice: number;
  readonly total: number;
}

/** A cart line. */
export interface PaymentCartLine {
  readonly sku: string;
  readonly qty: number;
}

/** A payment session. */
export interface PaymentSession {
  readonly sessionId: string;
  readonly customerId: string;
  readonly machineId: string;
  readonly currency: string;
  /** The price list revision the session is priced at, when it names one. */
  readonly priceList?: { readonly id: string; readonly revision: number };
  readonly state: PaymentState;
  /** The authorization hold, once placed. */
  readonly hold: { readonly holdId: string; readonly amount: number } | null;
  /** The cart the device decided, and how sure it was. */
  readonly deviceCart: readonly PaymentCartLine[] | null;
  readonly confidence: number | null;
  /** The version of the model that decided the device's cart, when the device said. */
  readonly modelVersion?: string;
  /** Why the session is (or was) in review. */
  readonly reviewReasons: readonly string[];
  /** Who reviewed it. */
  readonly reviewer: string | null;
  /** The cart that is charged: the device's, or the reviewer's. */
  readonly cart: readonly PaymentCartLine[] | null;
  readonly captured: number;
  readonly released: number;
  readonly refunded: number;
  /** Refunds so far (each has its own ledger step). */
  readonly refunds: number;
  readonly receiptTotal: number | null;
  /** The receipt's lines (SKU, name, quantity, unit price, line total), once issued. */
  readonly receiptLines?: readonly ReceiptLine[];
  readonly disputed: boolean;
  /** The dispute: why, and the SHA-256 of the door session's clips attached to it. */
  readonly dispute: { readonly reason: string; readonly clips: readonly string[] } | null;
  readonly failure: string | null;
  readonly startedAt: number;
  readonly updatedAt: number;
  /** Events applied (the next event's step number). */
  readonly steps: number;
}

/** An event the session's state does not allow; nothing changes. */
export class InvalidTransitionError extends Error {
  /** The session's state. */
  readonly state: PaymentState | "none";
  /** The event's type. */
  readonly event: string;
  /** Creates the error. */
  constructor(state: PaymentState | "none", event: string, why: string) {
    super(`Cannot apply ${event} to a session that is ${state}: ${why}`);
    this.name = "InvalidTransitionError";
    this.state = state;
    this.event = event;
  }
}

const FINAL: readonly PaymentState[] = ["settled", "declined", "failed"];

/** Whether nothing but refunds and disputes can happen to a session in `state`. */
export const isFinal = (state: PaymentState): boolean => FINAL.includes(state);

/** Applies one event to a session (undefined before `session_started`). */
export function applyPaymentEvent(
  session: PaymentSession | undefined,
  event: PaymentEvent,
): PaymentSession {
  const refuse = (why: string): never => {
    throw new InvalidTransitionError(session?.state ?? "none", event.type, why);
  };
  if (!session) {
    if (event.type !== "session_started") refuse("the session has not started");
    return startSession(event as Extract<PaymentEvent, { type: "session_started" }>);
  }
  if (event.sessionId !== session.sessionId) {
    refuse(`the event is for session ${event.sessionId}`);
  }
  if (event.currency !== session.currency) {
    refuse(`the event is in ${event.currency}, the session in ${session.currency}`);
  }
  return transition(session, event, refuse);
}

/** Refuses an event: throws {@link InvalidTransitionError} with why. */
type Refuse = (why: string) => never;

/** The session a `session_started` event begins. */
function startSession(e: Extract<PaymentEvent, { type: "session_started" }>): PaymentSession {
  return {
    sessionId: e.sessionId,
    customerId: e.customerId,
    machineId: e.machineId,
    currency: e.currency,
    ...(e.priceList ? { priceList: { ...e.priceList } } : {}),
    state: "started",
    hold: null,
    deviceCart: null,
    confidence: null,
    reviewReasons: [],
    reviewer: null,
    cart: null,
    captured: 0,
    released: 0,
    refunded: 0,
    refunds: 0,
    receiptTotal: null,
    disputed: false,
    dispute: null,
    failure: null,
    startedAt: e.ts,
    updatedAt: e.ts,
    steps: 1,
  };
}

/** The next session of a started `session` after `event` (of the same session and currency). */
function transition(
  session: PaymentSession,
  event: PaymentEvent,
  refuse: Refuse,
): PaymentSession {
  const next = (change: Partial<PaymentSession>): PaymentSession => ({
    ...session,
    ...change,
    updatedAt: event.ts,
    steps: session.steps + 1,
  });
  const need = (...states: PaymentState[]) => {
    if (!states.includes(session.state)) refuse(`it must be ${states.join(" or ")}`);
  };
  switch (event.type) {
    case "session_started":
      return refuse("the session has already started");
    case "hold_authorized":
      need("started");
      return next({ state: "held", hold: { holdId: event.holdId, amount: event.amount } });
    case "hold_declined":
      need("started");
      return next({ state: "declined", failure: event.reason });
    case "unlock_sent":
      need("held");
      return next({ state: "unlocked" });
    case "cart_received":
      need("unlocked");
      return next({
        state: "capturing",
        deviceCart: event.cart,
        confidence: event.confidence,
        cart: event.cart,
        ...(event.modelVersion !== undefined ? { modelVersion: event.modelVersion } : {}),
      });
    case "review_required":
      need("capturing", "unlocked");
      if (session.captured > 0 || session.released > 0) refuse("money has already moved");
      return next({ state: "review", reviewReasons: event.reasons, cart: null });
    case "review_completed":
      need("review");
      return next({ state: "capturing", cart: event.cart, reviewer: event.reviewer });
    case "captured":
      need("capturing");
      if (session.captured > 0) refuse(`${session.captured} was already captured`);
      if (event.amount > session.hold!.amount || event.holdAmount !== session.hold!.amount) {
        refuse(`${event.amount} is above the hold of ${session.hold!.amount}`);
      }
      return next({ captured: event.amount });
    case "hold_released":
      need("held", "unlocked", "capturing");
      if (session.released > 0) refuse(`${session.released} was already released`);
      if (session.captured + event.amount > session.hold!.amount) {
        refuse(`${event.amount} more than the hold leaves`);
      }
      return next({ released: event.amount });
    case "receipt_issued":
      need("capturing");
      if (session.captured + session.released !== session.hold!.amount) {
        refuse(
          `the hold of ${session.hold!.amount} is not settled (${session.captured} captured, ` +
            `${session.released} released)`,
        );
      }
      if (event.total !== session.captured) {
        refuse(`the receipt says ${event.total}, ${session.captured} was captured`);
      }
      return next({
        state: "settled",
        receiptTotal: event.total,
        receiptLines: event.lines.map((l) => ({ ...l })),
      });
    case "refunded":
      need("settled");
      if (session.refunded + event.amount > session.captured) {
        refuse(
          `${event.amount} is above what is left to refund (${
            session.captured - session.refunded
          })`,
        );
      }
      return next({ refunded: session.refunded + event.amount, refunds: session.refunds + 1 });
    case "disputed":
      need("settled");
      if (session.disputed) refuse("it is already disputed");
      return next({ disputed: true, dispute: { reason: event.reason, clips: event.clips } });
    case "failed":
      if (isFinal(session.state)) refuse("the session is over");
      if (session.hold && session.captured + session.released !== session.hold.amount) {
        refuse("its hold is not settled (release it first)");
      }
      return next({ state: "failed", failure: event.reason });
  }
}
