import assert from "node:assert/strict";
import { allMalformed, assertRefused, assertValid } from "./_family_test_util.ts";
import { clockSync } from "./clock_sync.ts";
import fixtures from "./testdata/clock_sync.json" with { type: "json" };

Deno.test("parseClockSync accepts the fixtures and round-trips them", () => {
  assertValid(clockSync, fixtures);
});

Deno.test("parseClockSync names the offending field of every malformed message", () => {
  const reply = fixtures[1]!;
  const n = assertRefused(clockSync, [
    ...allMalformed(fixtures, { discriminators: ["kind"] }),
    { what: "reply sent before received", input: { ...reply, t2: reply.t1! - 1 }, field: "t2" },
    { what: "negative t0", input: { ...reply, t0: -5 }, field: "t0" },
  ]);
  assert.ok(n >= 20, `only ${n} malformed messages`);
});
