import assert from "node:assert/strict";
import { pooled } from "./pool.ts";

/** Work whose items finish when the test says, recording what runs. */
function gated() {
  const gates = new Map<number, PromiseWithResolvers<void>>();
  const started: number[] = [];
  const finished: number[] = [];
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  let running = 0;
  let most = 0;
  const gate = (item: number) => {
    let g = gates.get(item);
    if (!g) gates.set(item, g = Promise.withResolvers<void>());
    return g;
  };
  return {
    started,
    finished,
    get most() {
      return most;
    },
    gate,
    /** Resolves once `n` items have started. */
    whenStarted(n: number): Promise<void> {
      if (started.length >= n) return Promise.resolve();
      const w = Promise.withResolvers<void>();
      waiters.push({ n, resolve: w.resolve });
      return w.promise;
    },
    async work(item: number): Promise<void> {
      started.push(item);
      running++;
      most = Math.max(most, running);
      for (const w of waiters) if (started.length >= w.n) w.resolve();
      try {
        await gate(item).promise;
      } finally {
        running--;
        finished.push(item);
      }
    },
  };
}

Deno.test("pooled works on every item, never more than concurrency at once, in order", async () => {
  const w = gated();
  const done = pooled([1, 2, 3, 4, 5, 6, 7], (i) => w.work(i), { concurrency: 3 });
  await w.whenStarted(3);
  await Promise.resolve();
  assert.deepEqual(w.started, [1, 2, 3], "three started, the rest wait");
  // Each item that ends frees a place for the next one.
  const order = [2, 1, 3, 5, 4, 6, 7];
  for (const [i, item] of order.entries()) {
    w.gate(item).resolve();
    await w.whenStarted(Math.min(4 + i, 7));
  }
  await done;
  assert.deepEqual(w.started, [1, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual(w.finished, order);
  assert.equal(w.most, 3);
});

Deno.test("pooled rejects with the first error after the running items settle, starting none after it", async () => {
  const w = gated();
  const broken = new Error("item 2 failed");
  let settled = false;
  const done = pooled([1, 2, 3, 4, 5], async (i) => {
    if (i === 2) throw broken;
    await w.work(i);
  }, { concurrency: 2 }).finally(() => settled = true);
  await w.whenStarted(1);
  // Settle whatever is pending: item 2's failure is seen, and no item takes its place.
  for (let i = 0; i < 10; i++) await Promise.resolve();
  assert.deepEqual(w.started, [1], "nothing started after the failure");
  assert.equal(settled, false, "1 still runs");
  w.gate(1).resolve();
  await assert.rejects(done, (e) => e === broken);
  assert.deepEqual(w.started, [1]);
  assert.deepEqual(w.finished, [1], "the running one was waited for");
});

Deno.test("pooled starts nothing more once its signal aborts, and rejects with the reason", async () => {
  const w = gated();
  const stop = new AbortController();
  const reason = new Error("stopping");
  const done = pooled([1, 2, 3, 4], (i) => w.work(i), { concurrency: 2, signal: stop.signal });
  await w.whenStarted(2);
  stop.abort(reason);
  w.gate(1).resolve();
  w.gate(2).resolve();
  await assert.rejects(done, (e) => e === reason);
  assert.deepEqual(w.started, [1, 2]);
  assert.deepEqual(w.finished.sort(), [1, 2]);
});

Deno.test("pooled resolves for no items; aborted before it saw the end of them, it rejects", async () => {
  await pooled([], () => Promise.reject(new Error("never called")), { concurrency: 4 });
  const stop = new AbortController();
  let ran = 0;
  await assert.rejects(
    pooled([1], async () => {
      ran++;
      await Promise.resolve();
      stop.abort(new Error("stopped during the last item"));
    }, { concurrency: 1, signal: stop.signal }),
    /stopped during the last item/,
  );
  assert.equal(ran, 1);
});

Deno.test("pooled refuses a concurrency that is not an integer of 1 or more", async () => {
  for (const concurrency of [0, -2, 1.5]) {
    await assert.rejects(pooled([1], () => Promise.resolve(), { concurrency }), RangeError);
  }
});
