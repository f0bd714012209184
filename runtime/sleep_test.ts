import assert from "node:assert/strict";
import { sleep } from "./sleep.ts";

Deno.test("sleep resolves when its signal aborts, long before its time", async () => {
  const stop = new AbortController();
  let done = false;
  const waiting = sleep(60_000, { signal: stop.signal }).then(() => done = true);
  await Promise.resolve();
  assert.equal(done, false, "still waiting before the abort");
  stop.abort();
  await waiting;
  assert.equal(done, true);
});

Deno.test("sleep resolves at once for a signal already aborted, and after its time without one", async () => {
  await sleep(60_000, { signal: AbortSignal.abort() });
  const t0 = performance.now();
  await sleep(20);
  assert.ok(performance.now() - t0 >= 19, "waited its time");
});

Deno.test("sleep refuses a negative or non-finite time", () => {
  assert.throws(() => sleep(-1), RangeError);
  assert.throws(() => sleep(Number.NaN), /Cannot sleep for NaN ms/);
});
