import assert from "node:assert/strict";
import { RateLimiter } from "./rate_limiter.ts";

Deno.test("RateLimiter allows a burst, then one take per interval, per key", () => {
  let now = 0;
  const limiter = new RateLimiter({ burst: 2, everyMs: 1000, now: () => now });
  assert.equal(limiter.take("a"), 0);
  assert.equal(limiter.take("a"), 0);
  assert.equal(limiter.take("a"), 1000);
  assert.equal(limiter.take("b"), 0, "another key has its own bucket");
  now = 400;
  assert.equal(limiter.take("a"), 600, "a refused take does not push the wait further");
  now = 1000;
  assert.equal(limiter.take("a"), 0);
  assert.equal(limiter.take("a"), 1000);
  now = 10_000;
  assert.equal(limiter.take("a"), 0);
  assert.equal(limiter.take("a"), 0);
  assert.equal(limiter.take("a"), 1000, "a long quiet refills only up to the burst");
});

Deno.test("RateLimiter forgets the least recently used key beyond maxKeys", () => {
  const limiter = new RateLimiter({ burst: 1, everyMs: 60_000, maxKeys: 2, now: () => 0 });
  assert.equal(limiter.take("a"), 0);
  assert.equal(limiter.take("b"), 0);
  assert.equal(limiter.take("c"), 0);
  assert.equal(limiter.take("b"), 60_000, "b is still remembered");
  assert.equal(limiter.take("a"), 0, "a was forgotten");
});

Deno.test("RateLimiter refuses a burst or interval that is not positive", () => {
  assert.throws(() => new RateLimiter({ burst: 0, everyMs: 1 }), RangeError);
  assert.throws(() => new RateLimiter({ burst: 1, everyMs: Number.NaN }), /everyMs/);
});
