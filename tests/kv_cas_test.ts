/**
 * Compare-and-swap on a replicated bucket of a real 3-server cluster: nats-server 2.9 lets
 * concurrent updates made from one revision all succeed; through atomicUpdates exactly one does.
 */
import assert from "node:assert/strict";
import { jetstream } from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import { atomicUpdates, isRevisionConflict } from "../cloud/nats/mod.ts";
import { startTestCluster } from "./harness.ts";

/** Of `n` updates from one revision, through `kvs` in turn, how many succeeded. */
async function race(kvs: KV[], n: number, round: number): Promise<number> {
  const rev = await kvs[0]!.put("k", `start ${round}`);
  const settled = await Promise.allSettled(
    Array.from({ length: n }, (_, i) => kvs[i % kvs.length]!.update("k", `w${i}`, rev)),
  );
  for (const s of settled) {
    if (s.status === "rejected") assert.ok(isRevisionConflict(s.reason), String(s.reason));
  }
  return settled.filter((s) => s.status === "fulfilled").length;
}

Deno.test("on a replicated bucket, of concurrent compare-and-swaps from one revision exactly one wins through atomicUpdates (nats-server 2.9 lets several through without)", async () => {
  await using cluster = await startTestCluster(["eu"]);
  const ncs = await Promise.all([0, 1, 2].map((i) => cluster.connect("eu", `cas-${i}`)));
  await new Kvm(ncs[0]!).create("cas", { history: 1, replicas: 3 });
  const plain = await Promise.all(ncs.map((nc) => new Kvm(nc).open("cas")));
  const atomic = plain.map((kv, i) => atomicUpdates(kv, { js: jetstream(ncs[i]!), bucket: "cas" }));

  const plainWins: number[] = [];
  for (let round = 0; round < 5; round++) plainWins.push(await race(plain, 12, round));
  assert.ok(
    plainWins.some((n) => n > 1),
    `the race is there to be won more than once (plain wins per round: ${plainWins})`,
  );
  for (let round = 0; round < 10; round++) {
    assert.equal(await race(atomic, 12, round), 1, `round ${round}: one winner`);
  }

  // The winner's value is what the bucket holds; a later update from the new revision works.
  const e = (await atomic[1]!.get("k"))!;
  assert.match(e.string(), /^w\d+$/);
  assert.equal(await atomic[2]!.update("k", "next", e.revision), e.revision + 1);
  await assert.rejects(
    atomic[0]!.update("k", "stale", e.revision),
    (err) => isRevisionConflict(err),
  );

  // A create is one winner too, including over a deleted key; a bad key is a TypeError.
  await atomic[0]!.delete("k");
  const created = await Promise.allSettled(atomic.map((kv, i) => kv.create("k", `c${i}`)));
  assert.equal(created.filter((s) => s.status === "fulfilled").length, 1);
  await assert.rejects(atomic[0]!.update("bad key", "x", 1), TypeError);
  await assert.rejects(atomic[0]!.update("k", "x", 0), RangeError);
});
