import assert from "node:assert/strict";
import { retry } from "./retry.ts";

class Passing extends Error {}
class Lasting extends Error {}
const passing = (e: unknown) => e instanceof Passing;

Deno.test("retry resolves with the first try that succeeds, waiting the delay of each failed one", async () => {
  const tries: number[] = [];
  const waits: number[] = [];
  const value = await retry(async (attempt) => {
    tries.push(attempt);
    if (attempt < 3) throw new Passing(`try ${attempt}`);
    return await Promise.resolve("done");
  }, {
    attempts: 5,
    retryIf: passing,
    delayMs: (attempt) => (waits.push(attempt), 1),
  });
  assert.equal(value, "done");
  assert.deepEqual(tries, [1, 2, 3]);
  assert.deepEqual(waits, [1, 2], "one wait after each failed try, told which one failed");
});

Deno.test("retry gives up after its attempts with the last error, unchanged", async () => {
  const errors: Passing[] = [];
  await assert.rejects(
    retry((attempt) => {
      const e = new Passing(`try ${attempt}`);
      errors.push(e);
      return Promise.reject(e);
    }, { attempts: 4, retryIf: passing }),
    (e) => e === errors[3],
  );
  assert.equal(errors.length, 4, "tried exactly 4 times");
});

Deno.test("retry does not try again after an error retryIf refuses", async () => {
  let tries = 0;
  const lasting = new Lasting("will fail the same way");
  await assert.rejects(
    retry((attempt) => {
      tries++;
      return Promise.reject(attempt === 1 ? new Passing("first") : lasting);
    }, { attempts: 10, retryIf: passing }),
    (e) => e === lasting,
  );
  assert.equal(tries, 2, "the refused error ends it at once");
});

Deno.test("retry stops waiting when its signal aborts, and rejects with the signal's reason", async () => {
  const stop = new AbortController();
  const waiting = Promise.withResolvers<void>();
  let tries = 0;
  const stopped = new Error("stopping");
  const t0 = performance.now();
  const result = retry(() => {
    tries++;
    return Promise.reject(new Passing("down"));
  }, {
    attempts: 3,
    retryIf: passing,
    delayMs: () => (waiting.resolve(), 60_000),
    signal: stop.signal,
  });
  await waiting.promise;
  stop.abort(stopped);
  await assert.rejects(result, (e) => e === stopped);
  assert.equal(tries, 1, "no try after the abort");
  assert.ok(performance.now() - t0 < 30_000, "the wait was cut short");
});

Deno.test("retry refuses attempts that are not an integer of 1 or more, before any try", async () => {
  let tries = 0;
  const fn = () => (tries++, Promise.resolve(1));
  for (const attempts of [0, -1, 1.5, Number.NaN]) {
    await assert.rejects(retry(fn, { attempts, retryIf: () => true }), RangeError);
  }
  assert.equal(tries, 0);
});
