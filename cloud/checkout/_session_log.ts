/**
 * The session log: the only writer of payment sessions. A session lives in the
 * `payment_sessions` KV bucket and changes only by `applyPaymentEvent` under compare-and-swap on
 * the entry's revision; every change is also published to the region's PAYMENTS stream (message
 * id derived from the session and step, so a repeat is dropped). The log keeps the indexes that
 * follow a session's state too: `payment_review` (one key per session in review) and
 * `customer_sessions` (a customer's sessions).
 *
 * @module
 */
import { openKv } from "../nats/mod.ts";
import {
  DeliverPolicy,
  jetstream,
  type JetStreamManager,
  jetstreamManager,
} from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import type { KV } from "@nats-io/kv";
import { applyPaymentEvent, type PaymentSession } from "../../payments/mod.ts";
import {
  buckets,
  parsePaymentEvent,
  type PaymentEvent,
  paymentEvent,
  paymentSubjectParts,
  streamName,
  subjects,
} from "../../protocol/mod.ts";
import { compareAndSwap, CompareAndSwapExhaustedError, type Logger } from "../../runtime/mod.ts";
import { readAll } from "./_bucket_values.ts";
import {
  notFoundAsUndefined,
  PaymentConflictError,
  PaymentNotFoundError,
} from "./_payment_errors.ts";

/** A session as the `payment_sessions` bucket holds it, with what the service keeps beside it. */
export interface StoredSession {
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

/** A payment event without what the log fills in (version, id, time, session, machine, currency). */
export type EventBody = PaymentEvent extends infer E
  ? E extends PaymentEvent ? Omit<E, "v" | "id" | "ts" | "sessionId" | "machineId" | "currency">
  : never
  : never;

/** Options of {@link SessionLog.open}. */
export interface SessionLogOptions {
  readonly region: string;
  /** Clock, Unix ms. */
  readonly now: () => number;
  /** Where a stale review index entry that could not be removed is logged. */
  readonly logger?: Logger | undefined;
}

const encoder = new TextEncoder();

/** The payment sessions, their PAYMENTS events and the indexes that follow them. */
export class SessionLog {
  readonly #nc: NatsConnection;
  readonly #o: SessionLogOptions;
  readonly #sessions: KV;
  readonly #review: KV;
  readonly #byCustomer: KV;

  private constructor(nc: NatsConnection, o: SessionLogOptions, kvs: [KV, KV, KV]) {
    this.#nc = nc;
    this.#o = o;
    [this.#sessions, this.#review, this.#byCustomer] = kvs;
  }

  /** Opens the log (creating its buckets when missing). */
  static async open(nc: NatsConnection, options: SessionLogOptions): Promise<SessionLog> {
    return new SessionLog(nc, options, [
      await openKv(nc, buckets.paymentSessions, { history: 1 }),
      await openKv(nc, buckets.paymentReview, { history: 1 }),
      await openKv(nc, buckets.customerSessions, { history: 1 }),
    ]);
  }

  /** A session, or throws {@link PaymentNotFoundError}. */
  async get(sessionId: string): Promise<PaymentSession> {
    return (await this.stored(sessionId)).session;
  }

  /** A session as stored, or throws {@link PaymentNotFoundError}. */
  async stored(sessionId: string): Promise<StoredSession> {
    // A failed read is not "no such session": it says why (a timeout is worth another try).
    const e = await this.#sessions.get(sessionId);
    if (!e || e.operation !== "PUT") throw new PaymentNotFoundError(`session ${sessionId}`);
    return e.json<StoredSession>();
  }

  /** Every stored session, read one key at a time as the caller takes them. */
  async *each(): AsyncGenerator<StoredSession> {
    for await (const key of await this.#sessions.keys()) {
      const e = await this.#sessions.get(key);
      if (e?.operation !== "PUT") continue;
      yield e.json<StoredSession>();
    }
  }

  /** Every session (tests and tools: it reads the whole bucket). */
  async sessions(): Promise<PaymentSession[]> {
    return (await readAll<StoredSession>(this.#sessions)).map((x) => x.session);
  }

  /**
   * Records a new session from its first event (`session_started`, step 1): the entry, its
   * customer's index entry, and the event on the PAYMENTS stream.
   */
  async create(
    at: { sessionId: string; machineId: string; currency: string },
    first: { readonly body: EventBody; readonly paymentMethod: string },
  ): Promise<PaymentSession> {
    const event = this.#event(at, 1, first.body);
    const session = applyPaymentEvent(undefined, event);
    const stored: StoredSession = { session, paymentMethod: first.paymentMethod, lastEvent: event };
    await this.#sessions.create(at.sessionId, encoder.encode(JSON.stringify(stored)));
    await this.#byCustomer.put(`${session.customerId}.${at.sessionId}`, encoder.encode(""));
    await this.#publish(event);
    return session;
  }

  /** The session's event of step `step`: validated, its id derived from the session and step. */
  #event(
    s: { sessionId: string; machineId: string; currency: string },
    step: number,
    body: EventBody,
  ): PaymentEvent {
    const event = {
      v: 1,
      id: `${s.sessionId.slice(0, 56)}-s${step}`,
      ts: this.#o.now(),
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
  async advance(
    sessionId: string,
    build: (s: PaymentSession, stored: StoredSession) => EventBody | null,
    extra?: (stored: StoredSession) => Partial<StoredSession>,
  ): Promise<PaymentSession> {
    // What the last read held: `change` runs once per attempt, so the write made is its own.
    let read: StoredSession | undefined;
    const written = await compareAndSwap<StoredSession>(
      { kv: this.#sessions, key: sessionId },
      (stored) => {
        if (!stored) throw new PaymentNotFoundError(`session ${sessionId}`);
        read = stored;
        const body = build(stored.session, stored);
        if (!body) return undefined;
        const event = this.#event(stored.session, stored.session.steps + 1, body);
        const session = applyPaymentEvent(stored.session, event);
        return { ...stored, ...extra?.(stored), session, lastEvent: event };
      },
      { attempts: 50 },
    ).catch((e) => {
      if (!(e instanceof CompareAndSwapExhaustedError)) throw e;
      throw new PaymentConflictError(`Session ${sessionId} is changing too often; try again`, {
        cause: e,
      });
    });
    const before = read!.session;
    if (!written) return before;
    const { session, lastEvent } = written.value;
    if (session.state === "review" && before.state !== "review") {
      await this.#review.put(sessionId, encoder.encode(String(session.updatedAt)));
    } else if (session.state !== "review" && before.state === "review") {
      await this.#review.delete(sessionId);
    }
    await this.#publish(lastEvent);
    return session;
  }

  async #publish(event: PaymentEvent): Promise<void> {
    await jetstream(this.#nc).publish(
      subjects.payment({ region: this.#o.region, sessionId: event.sessionId }, event.type),
      paymentEvent.encode(event),
      { msgID: event.id },
    );
  }

  /** Puts a session in review back in the review index if its entry was lost. */
  async restoreReviewIndex(s: PaymentSession): Promise<void> {
    if (!(await this.#review.get(s.sessionId))) {
      // The index write was lost (a crash after the state write): the queue shows it again.
      await this.#review.put(s.sessionId, encoder.encode(String(s.updatedAt)));
    }
  }

  /** A session with the device's per-line confidence, door close and receipt times. */
  async detail(sessionId: string): Promise<PaymentSessionDetail> {
    const s = await this.stored(sessionId);
    return {
      session: s.session,
      lineConfidence: s.lineConfidence ?? null,
      closedAt: s.closedAt ?? null,
      receiptAt: s.receiptAt ?? null,
    };
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
}

/**
 * The device a session's unlock went to, from its `unlock_sent` event on the region's PAYMENTS
 * stream, read from the stream's leader; undefined when there is none. A read that fails throws.
 */
export async function unlockedDevice(
  jsm: JetStreamManager,
  at: { readonly region: string; readonly sessionId: string },
): Promise<string | undefined> {
  const u = await jsm.streams.getMessage(streamName("PAYMENTS", at.region), {
    last_by_subj: subjects.payment({ region: at.region, sessionId: at.sessionId }, "unlock_sent"),
  });
  const e = u ? parsePaymentEvent(u.data) : undefined;
  return e?.ok && e.value.type === "unlock_sent" ? e.value.deviceId : undefined;
}
