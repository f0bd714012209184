/**
 * The books: money movements written to the `ledger` bucket as balanced transactions, each
 * created once by id, and the check that every session's money is where its state says.
 *
 * @module
 */
import { openKv } from "../nats/mod.ts";
import type { NatsConnection } from "@nats-io/nats-core";
import type { KV } from "@nats-io/kv";
import {
  checkLedger,
  type LedgerParties,
  type LedgerTransaction,
  type PaymentSession,
  type SessionBooks,
} from "../../payments/mod.ts";
import { buckets } from "../../protocol/mod.ts";
import { isRevisionConflict } from "../fleet/mod.ts";
import { readAll } from "./_bucket_values.ts";
import type { StoredSession } from "./_session_log.ts";

const encoder = new TextEncoder();

/** The ledger the payment service writes. */
export class PaymentBooks {
  readonly #ledger: KV;
  readonly #now: () => number;

  private constructor(ledger: KV, now: () => number) {
    this.#ledger = ledger;
    this.#now = now;
  }

  /** Opens the books (creating the `ledger` bucket when missing); `now` dates the transactions. */
  static async open(
    nc: NatsConnection,
    options: { readonly now: () => number },
  ): Promise<PaymentBooks> {
    return new PaymentBooks(await openKv(nc, buckets.ledger, { history: 1 }), options.now);
  }

  /** Who a session's transactions are between, dated now. */
  parties(s: PaymentSession): LedgerParties {
    return {
      sessionId: s.sessionId,
      customerId: s.customerId,
      machineId: s.machineId,
      currency: s.currency,
      at: this.#now(),
    };
  }

  /** Writes a ledger transaction once (a repeat finds it there). */
  async book(t: LedgerTransaction): Promise<void> {
    try {
      await this.#ledger.create(t.id, encoder.encode(JSON.stringify(t)));
    } catch (e) {
      if (!isRevisionConflict(e)) throw e;
    }
  }
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
  const sessions = (await readAll<StoredSession>(await open(buckets.paymentSessions))).map((x) =>
    x.session
  );
  const transactions = await readAll<LedgerTransaction>(await open(buckets.ledger));
  return {
    sessions: sessions.length,
    transactions: transactions.length,
    discrepancies: checkLedger(transactions, sessions.map(booksOf)),
  };
}
