import assert from "node:assert/strict";
import { allMalformed, assertRefused, assertValid } from "./_family_test_util.ts";
import { paymentEvent } from "./payment_event.ts";
import fixtures from "./testdata/payment_event.json" with { type: "json" };

Deno.test("parsePaymentEvent accepts the fixtures and round-trips them", () => {
  assertValid(paymentEvent, fixtures);
});

Deno.test("parsePaymentEvent names the offending field of every malformed event", () => {
  const [hold, captured, receipt] = fixtures;
  const n = assertRefused(paymentEvent, [
    ...allMalformed(fixtures, { discriminators: ["type"] }),
    { what: "negative amount", input: { ...hold, amount: -5 }, field: "amount" },
    { what: "fractional amount", input: { ...hold, amount: 4.5 }, field: "amount" },
    { what: "lower-case currency", input: { ...hold, currency: "eur" }, field: "currency" },
    { what: "capture above the hold", input: { ...captured, amount: 6000 }, field: "amount" },
    { what: "receipt total off by one", input: { ...receipt, total: 451 }, field: "total" },
    {
      what: "receipt line total wrong",
      input: {
        ...receipt,
        lines: [{ sku: "A1", name: "A", qty: 2, unitPrice: 100, total: 150 }],
        total: 150,
      },
      field: "lines[0].total",
    },
  ]);
  assert.ok(n >= 20, `only ${n} malformed events`);
});
