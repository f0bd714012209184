import assert from "node:assert/strict";
import {
  balances,
  checkLedger,
  holdTransaction,
  refundTransaction,
  settleTransactions,
} from "./ledger.ts";

const parties = { sessionId: "s1", customerId: "c1", machineId: "m001", currency: "EUR", at: 0 };

Deno.test("ledger: a settled session moves the capture to the merchant and releases the rest", () => {
  const txs = [
    holdTransaction(parties, 2000),
    ...settleTransactions(parties, { hold: 2000, captured: 350 }),
    refundTransaction(parties, "1", 100),
  ];
  const b = balances(txs);
  assert.equal(b.get("holds:s1"), 0);
  assert.equal(b.get("merchant:m001"), 250);
  assert.equal(b.get("customer:c1"), -250);
  assert.deepEqual(
    checkLedger(txs, [{
      sessionId: "s1",
      state: "settled",
      hold: 2000,
      captured: 350,
      refunded: 100,
    }]),
    [],
  );
});

Deno.test("ledger: an empty cart releases the whole hold; a session in review keeps it", () => {
  const s2 = { ...parties, sessionId: "s2" };
  const txs = [
    holdTransaction(parties, 900),
    ...settleTransactions(parties, { hold: 900, captured: 0 }),
    holdTransaction(s2, 900),
  ];
  assert.deepEqual(settleTransactions(parties, { hold: 900, captured: 0 }).map((t) => t.kind), [
    "release",
  ]);
  assert.deepEqual(
    checkLedger(txs, [
      { sessionId: "s1", state: "settled", hold: 900, captured: 0 },
      { sessionId: "s2", state: "review", hold: 900 },
    ]),
    [],
  );
});

Deno.test("checkLedger names a double capture, an unbalanced entry, an unsettled session and a stray one", () => {
  const capture = settleTransactions(parties, { hold: 1000, captured: 1000 });
  const broken = { ...holdTransaction({ ...parties, sessionId: "s3" }, 500) };
  const txs = [
    holdTransaction(parties, 1000),
    ...capture,
    ...capture, // the same capture recorded again: a double charge
    {
      ...broken,
      postings: [{ account: "customer:c1", amount: -500 }, { account: "holds:s3", amount: 400 }],
    },
    holdTransaction({ ...parties, sessionId: "s4" }, 300),
  ];
  const problems = checkLedger(txs, [
    { sessionId: "s1", state: "settled", hold: 1000, captured: 1000 },
    { sessionId: "s3", state: "awaiting", hold: 500 },
  ]);
  assert.ok(problems.includes("transaction s1.capture is recorded twice"), problems.join("\n"));
  assert.ok(problems.includes("transaction s3.hold does not balance: its postings sum to -100"));
  assert.ok(problems.some((p) => /session s1 \(settled\) holds -1000/.test(p)));
  assert.ok(problems.includes("session s1 captured 1000, the ledger says 2000"));
  assert.ok(problems.includes("session s4 has movements but no session record"));
  assert.ok(problems.includes("the accounts sum to -100, not 0"));
});
