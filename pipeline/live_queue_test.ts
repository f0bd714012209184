import assert from "node:assert/strict";
import { liveQueue } from "./live_queue.ts";
import { StageMetrics } from "./stage_metrics.ts";

class Item implements Disposable {
  static released: number[] = [];
  constructor(readonly n: number) {}
  [Symbol.dispose]() {
    Item.released.push(this.n);
  }
}

Deno.test("liveQueue drops the oldest item when full, releases it and counts it", async () => {
  Item.released = [];
  const metrics = new StageMetrics("q");
  const q = liveQueue<Item>(3, { metrics });
  const writer = q.writable.getWriter();
  for (let i = 0; i < 10; i++) await writer.write(new Item(i)); // writes never wait
  assert.deepEqual(Item.released, [0, 1, 2, 3, 4, 5, 6]);
  assert.equal(metrics.snapshot().drops, 7);
  assert.equal(metrics.snapshot().queueDepth, 3);
  await writer.close();
  const got: number[] = [];
  for await (const item of q.readable) got.push(item.n);
  assert.deepEqual(got, [7, 8, 9]);
});

Deno.test("liveQueue hands items to a waiting reader without dropping", async () => {
  const q = liveQueue<Item>(2);
  const reader = q.readable.getReader();
  const pending = reader.read();
  const writer = q.writable.getWriter();
  await writer.write(new Item(42));
  assert.equal((await pending).value?.n, 42);
  assert.throws(() => liveQueue(0), RangeError);
});
