/**
 * The double-entry ledger of payment sessions: every money movement is a transaction of postings
 * that sum to zero (debits positive, credits negative), on these accounts:
 *
 * - `customer:<customerId>`: what the customer has paid (negative) or got back (positive)
 * - `holds:<sessionId>`: money reserved by a session's authorization hold, until it is captured
 *   or released (zero once the session is settled)
 * - `merchant:<machineId>`: what the machine's operator earned
 *
 * A transaction's id is derived from its session and step (`<sessionId>.hold`, `.capture`, ...),
 * so a movement recorded twice is visible as such. {@link checkLedger} verifies the books: every
 * transaction balances, no step is recorded twice, and every session's hold account is what its
 * state says (zero when settled, the hold while it waits for its cart or a review).
 *
 * @example
 * ```ts
 * import { checkLedger, holdTransaction, settleTransactions } from "./ledger.ts";
 *
 * const s = { sessionId: "s1", customerId: "c1", machineId: "m001", currency: "EUR", at: 0 };
 * const txs = [holdTransaction(s, 2000), ...settleTransactions(s, { hold: 2000, captured: 350 })];
 * console.log(checkLedger(txs, [{ sessionId: "s1", state: "settled", hold: 2000 }]));
 * ```
 *
 * @module
 */

/** One line of a transaction: `amount` debited (positive) or credited (negative) to `account`. */
export interface Posting {
  readonly account: string;
  readonly amount: number;
}

/** A balanced movement of money. */
export interface LedgerTransaction {
  /** `<sessionId>.<step>`: one per movement (a valid NATS KV key). */
  readonly id: string;
  readonly sessionId: string;
  readonly kind: "hold" | "capture" | "release" | "refund";
  readonly currency: string;
  /** Unix ms. */
  readonly at: number;
  readonly postings: readonly Posting[];
}

/** The parties of a session's movements. */
export interface LedgerParties {
  readonly sessionId: string;
  readonly customerId: string;
  readonly machineId: string;
  readonly currency: string;
  readonly at: number;
}

const tx = (
  p: LedgerParties,
  step: string,
  kind: LedgerTransaction["kind"],
  postings: Posting[],
): LedgerTransaction => ({
  id: `${p.sessionId}.${step}`,
  sessionId: p.sessionId,
  kind,
  currency: p.currency,
  at: p.at,
  postings,
});

/** The hold: the customer's money reserved for the session. */
export function holdTransaction(p: LedgerParties, amount: number): LedgerTransaction {
  return tx(p, "hold", "hold", [
    { account: `customer:${p.customerId}`, amount: -amount },
    { account: `holds:${p.sessionId}`, amount },
  ]);
}

/** Settling a hold: what was captured goes to the merchant, the rest back to the customer. */
export function settleTransactions(
  p: LedgerParties,
  amounts: { readonly hold: number; readonly captured: number },
): LedgerTransaction[] {
  const out: LedgerTransaction[] = [];
  if (amounts.captured > 0) {
    out.push(tx(p, "capture", "capture", [
      { account: `holds:${p.sessionId}`, amount: -amounts.captured },
      { account: `merchant:${p.machineId}`, amount: amounts.captured },
    ]));
  }
  const released = amounts.hold - amounts.captured;
  if (released > 0) {
    out.push(tx(p, "release", "release", [
      { account: `holds:${p.sessionId}`, amount: -released },
      { account: `customer:${p.customerId}`, amount: released },
    ]));
  }
  return out;
}

/** A refund: from the merchant back to the customer; `step` tells refunds apart. */
export function refundTransaction(
  p: LedgerParties,
  step: string,
  amount: number,
): LedgerTransaction {
  return tx(p, `refund-${step}`, "refund", [
    { account: `merchant:${p.machineId}`, amount: -amount },
    { account: `customer:${p.customerId}`, amount },
  ]);
}

/** What the ledger check needs to know of a session. */
export interface SessionBooks {
  readonly sessionId: string;
  /** `settled`, `refunded` and `canceled` sessions must have no money held; `review` and
   * `awaiting` ones hold their whole hold; `declined` ones never held any. */
  readonly state: "awaiting" | "review" | "settled" | "declined";
  readonly hold: number;
  /** What the session says it captured and refunded (checked against the postings). */
  readonly captured?: number;
  readonly refunded?: number;
}

/** The balance of every account. */
export function balances(transactions: readonly LedgerTransaction[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const t of transactions) {
    for (const p of t.postings) out.set(p.account, (out.get(p.account) ?? 0) + p.amount);
  }
  return out;
}

/** Every discrepancy of the books, as sentences (none: the books are right). */
export function checkLedger(
  transactions: readonly LedgerTransaction[],
  sessions: readonly SessionBooks[],
): string[] {
  const problems: string[] = [];
  const ids = new Set<string>();
  const bySession = new Map<string, LedgerTransaction[]>();
  for (const t of transactions) {
    const sum = t.postings.reduce((s, p) => s + p.amount, 0);
    if (sum !== 0) {
      problems.push(`transaction ${t.id} does not balance: its postings sum to ${sum}`);
    }
    if (t.postings.some((p) => !Number.isInteger(p.amount))) {
      problems.push(`transaction ${t.id} has an amount that is not whole minor units`);
    }
    if (ids.has(t.id)) problems.push(`transaction ${t.id} is recorded twice`);
    ids.add(t.id);
    const list = bySession.get(t.sessionId) ?? [];
    list.push(t);
    bySession.set(t.sessionId, list);
  }
  const all = balances(transactions);
  const total = [...all.values()].reduce((a, b) => a + b, 0);
  if (total !== 0) problems.push(`the accounts sum to ${total}, not 0`);
  const known = new Set(sessions.map((s) => s.sessionId));
  for (const id of bySession.keys()) {
    if (!known.has(id)) problems.push(`session ${id} has movements but no session record`);
  }
  for (const s of sessions) {
    const txs = bySession.get(s.sessionId) ?? [];
    const held = all.get(`holds:${s.sessionId}`) ?? 0;
    const sum = (kind: LedgerTransaction["kind"]) =>
      txs.filter((t) => t.kind === kind).reduce(
        (n, t) =>
          n + t.postings.filter((p) => p.account.startsWith("merchant:"))
            .reduce((m, p) => m + Math.abs(p.amount), 0),
        0,
      );
    const want = s.state === "settled" || s.state === "declined" ? 0 : s.hold;
    if (held !== want) {
      problems.push(
        `session ${s.sessionId} (${s.state}) holds ${held} in the ledger, expected ${want}`,
      );
    }
    if (s.state !== "declined" && !txs.some((t) => t.kind === "hold")) {
      problems.push(`session ${s.sessionId} (${s.state}) has no hold in the ledger`);
    }
    if (s.captured !== undefined && sum("capture") !== s.captured) {
      problems.push(
        `session ${s.sessionId} captured ${s.captured}, the ledger says ${sum("capture")}`,
      );
    }
    if (s.refunded !== undefined && sum("refund") !== s.refunded) {
      problems.push(
        `session ${s.sessionId} refunded ${s.refunded}, the ledger says ${sum("refund")}`,
      );
    }
    if (sum("refund") > sum("capture")) {
      problems.push(`session ${s.sessionId} refunded more than it captured`);
    }
  }
  return problems;
}
