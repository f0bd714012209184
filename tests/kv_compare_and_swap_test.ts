/**
 * runtime's compareAndSwap against a real nats-server: create, update, nothing to write, over a
 * deleted key, two writers at once both counted, and the attempts running out.
 */
import assert from "node:assert/strict";
import { Kvm } from "@nats-io/kv";
import {
  compareAndSwap,
  CompareAndSwapExhaustedError,
  isRevisionConflict,
} from "../runtime/mod.ts";
import { startTestNats } from "./harness.ts";

Deno.test("compareAndSwap creates a missing key, updates at the revision read, and writes nothing when told", async () => {
  await using nats = await startTestNats();
  await using nc = await nats.connect();
  const kv = await new Kvm(nc).create("cas_basic", { history: 5 });
  const seen: Array<number | undefined> = [];
  const add = (n: number | undefined) => (seen.push(n), (n ?? 0) + 1);

  const first = await compareAndSwap({ kv, key: "n" }, add);
  assert.deepEqual(first, { value: 1, revision: 1 });
  const second = await compareAndSwap({ kv, key: "n" }, add);
  assert.deepEqual(second, { value: 2, revision: 2 });
  assert.deepEqual(seen, [undefined, 1]);
  assert.equal((await kv.get("n"))!.json<number>(), 2);

  assert.equal(await compareAndSwap({ kv, key: "n" }, () => undefined), undefined);
  assert.equal((await kv.get("n"))!.revision, 2, "nothing written");

  // Over a deleted key: `change` sees none (and the delete marker), and it is written again.
  await kv.delete("n");
  const operations: string[] = [];
  const again = await compareAndSwap({ kv, key: "n" }, (n: number | undefined, entry) => {
    operations.push(entry?.operation ?? "none");
    return (n ?? 10) + 1;
  });
  assert.equal(again?.value, 11);
  assert.deepEqual(operations, ["DEL"]);
  assert.equal((await kv.get("n"))!.json<number>(), 11);

  // Its own codec; what `change` throws propagates at once.
  const text = await compareAndSwap({ kv, key: "t" }, (s?: string) => `${s ?? ""}a`, {
    encode: (s) => s,
    decode: (e) => e.string(),
  });
  assert.equal(text?.value, "a");
  assert.equal((await kv.get("t"))!.string(), "a");
  let runs = 0;
  const refused = new Error("not this one");
  await assert.rejects(
    compareAndSwap({ kv, key: "n" }, () => {
      runs++;
      throw refused;
    }),
    (e) => e === refused,
  );
  assert.equal(runs, 1);
});

Deno.test("compareAndSwap: two writers from the same revision both land their change", async () => {
  await using nats = await startTestNats();
  await using a = await nats.connect("writer-a");
  await using b = await nats.connect("writer-b");
  const kvA = await new Kvm(a).create("cas_race", { history: 5 });
  const kvB = await new Kvm(b).open("cas_race");
  await kvA.put("list", JSON.stringify([]));

  // Each one's first attempt waits until both have read: both write over the same revision.
  const bothRead = Promise.withResolvers<void>();
  let reads = 0;
  const runs = { a: 0, b: 0 };
  const append = (who: "a" | "b") => async (list: string[] | undefined) => {
    runs[who]++;
    if (runs[who] === 1 && ++reads === 2) bothRead.resolve();
    if (runs[who] === 1) await bothRead.promise;
    return [...(list ?? []), who];
  };
  const [wa, wb] = await Promise.all([
    compareAndSwap({ kv: kvA, key: "list" }, append("a")),
    compareAndSwap({ kv: kvB, key: "list" }, append("b")),
  ]);
  const final = (await kvA.get("list"))!;
  assert.deepEqual(final.json<string[]>().sort(), ["a", "b"], "neither change lost");
  assert.equal(runs.a + runs.b, 3, "one of them lost the first race and read again");
  assert.equal(Math.max(wa!.revision, wb!.revision), final.revision);
});

Deno.test("compareAndSwap throws CompareAndSwapExhaustedError, the last conflict as its cause, when every attempt loses", async () => {
  await using nats = await startTestNats();
  await using nc = await nats.connect();
  await using other = await nats.connect("the-other-writer");
  const kv = await new Kvm(nc).create("cas_busy", { history: 5 });
  const otherKv = await new Kvm(other).open("cas_busy");
  await kv.put("hot", JSON.stringify(0));

  // Another writer changes the key between each read and write.
  let runs = 0;
  const error = await compareAndSwap({ kv, key: "hot" }, async (n: number | undefined) => {
    runs++;
    await otherKv.put("hot", JSON.stringify(-runs));
    return (n ?? 0) + 1;
  }, { attempts: 3, delayMs: (attempt) => attempt }).then(
    () => assert.fail("it cannot have written"),
    (e: unknown) => e,
  );
  assert.ok(error instanceof CompareAndSwapExhaustedError, String(error));
  assert.equal(error.key, "hot");
  assert.equal(error.attempts, 3);
  assert.ok(isRevisionConflict(error.cause), String(error.cause));
  assert.equal(runs, 3, "exactly the attempts asked for");
  assert.equal((await kv.get("hot"))!.json<number>(), -3, "only the other writer's values");
});

Deno.test("compareAndSwap stops between attempts when its signal aborts", async () => {
  await using nats = await startTestNats();
  await using nc = await nats.connect();
  const kv = await new Kvm(nc).create("cas_stop", { history: 5 });
  await kv.put("k", JSON.stringify(0));
  const stop = new AbortController();
  const reason = new Error("stopping");
  let runs = 0;
  await assert.rejects(
    compareAndSwap({ kv, key: "k" }, async (n: number | undefined) => {
      runs++;
      await kv.put("k", JSON.stringify(100)); // this attempt loses
      stop.abort(reason);
      return (n ?? 0) + 1;
    }, { signal: stop.signal, delayMs: 60_000 }),
    (e) => e === reason,
  );
  assert.equal(runs, 1);
});
