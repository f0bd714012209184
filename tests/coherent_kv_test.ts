/**
 * coherentKv on a real nats-server: two buckets stand for a mirror that is behind and its
 * original (a mirror-opened KV reads the mirror and writes the original; revisions are aligned
 * as a mirror's are, by writing both in step).
 */
import assert from "node:assert/strict";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import { TimeoutError } from "@nats-io/nats-core";
import { coherence, coherentKv, getLatest, ReplicaBehindError } from "../cloud/nats/mod.ts";
import { connectNats, isTransientNatsError, leaderLastSequence } from "../cloud/nats/mod.ts";
import { eventually } from "./edge_harness.ts";
import { startTestCluster, startTestNats } from "./harness.ts";

/** A KV that reads `reads` and writes `writes`, as a mirror-opened KV does. */
function split(reads: KV, writes: KV): KV {
  return new Proxy(reads, {
    get(target, prop) {
      const from = prop === "put" || prop === "update" || prop === "create" ? writes : target;
      const value = Reflect.get(from, prop, from);
      return typeof value === "function" ? value.bind(from) : value;
    },
  });
}

Deno.test("coherentKv answers from a mirror known fresh, from the original otherwise, and says it cannot know when the original is down", async () => {
  await using nats = await startTestNats();
  const nc = await nats.connect();
  try {
    const kvm = new Kvm(nc);
    const original = await kvm.create("coh_original", { history: 1 });
    const behind = await kvm.create("coh_mirror", { history: 1 });
    const jsm = await jetstreamManager(nc);
    let down = false;
    let originalReads = 0;
    const origin = new Proxy(original, {
      get(target, prop) {
        if (prop === "get") {
          return (...args: Parameters<KV["get"]>) => {
            originalReads++;
            return down ? Promise.reject(new TimeoutError()) : target.get(...args);
          };
        }
        const value = Reflect.get(target, prop, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    let now = 1_000_000;
    const shared = coherence();
    const open = () =>
      coherentKv(split(behind, original), {
        original: origin,
        jsm,
        mirrorStream: "KV_coh_mirror",
        originStream: "KV_coh_original",
        boundMs: 1000,
        now: () => now,
        shared,
      });
    const kv = open();

    // Both hold "a" at revision 1; the original has "b" too: the mirror is behind.
    await original.put("a", "1");
    await behind.put("a", "old-1");
    await original.put("b", "2");
    // Not known fresh: the original answers (and a refresh starts, which finds the mirror behind).
    assert.equal((await kv.get("a"))?.string(), "1");
    assert.equal(originalReads, 1);
    await shared.refreshing;
    assert.equal(shared.freshAsOf, -Infinity, "a mirror behind is not fresh");
    assert.equal((await kv.get("b"))?.string(), "2", "a key the mirror lacks is the original's");

    // The mirror catches up (its last sequence reaches the original's): known fresh.
    await behind.put("b", "2");
    await shared.refreshing;
    await kv.get("b");
    await shared.refreshing;
    assert.equal(shared.freshAsOf, now, "fresh as of the refresh");
    originalReads = 0;
    assert.equal((await kv.get("b"))?.string(), "2");
    assert.equal(originalReads, 0, "a fresh mirror's entry is taken");
    // A key the fresh mirror lacks is still asked of the original: never a wrong "not found".
    assert.equal(await kv.get("nowhere"), null);
    assert.equal(originalReads, 1);

    // Written through one KV, read back through another of the instance, never older, though
    // the mirror still holds the older revision.
    const rev = await open().put("a", "after");
    assert.ok(rev > (await behind.get("a"))!.revision);
    assert.equal((await kv.get("a"))?.string(), "after");

    // Past the bound the mirror is not taken without a new refresh.
    now += 1001;
    originalReads = 0;
    assert.equal((await kv.get("b"))?.string(), "2");
    assert.equal(originalReads, 1, "a mirror not known fresh for a second is not read alone");

    // The original cannot be reached: the mirror's entry stands when it is not older than
    // what was written here; otherwise, and for a key the mirror lacks, it cannot know yet.
    down = true;
    assert.equal((await kv.get("b"))?.string(), "2");
    await assert.rejects(kv.get("nowhere"), ReplicaBehindError);
    await assert.rejects(kv.get("a"), (e) => e instanceof ReplicaBehindError && e.key === "a");
    await assert.rejects(getLatest(kv, "b"), ReplicaBehindError);
    down = false;
    now += 3000; // past the time reads stop asking an original that failed
    assert.equal((await getLatest(kv, "a"))?.string(), "after");
    // A refused write (a revision conflict) sends the next read to the original.
    await original.put("c", "new");
    await behind.put("c", "stale");
    await assert.rejects(kv.update("c", "x", 1));
    originalReads = 0;
    assert.equal((await kv.get("c"))?.string(), "new");
    assert.equal(originalReads, 1);
  } finally {
    await nc.close();
  }
});

Deno.test("leaderLastSequence answers only from a stream's leader: a leaderless member answers STREAM.INFO from its own state, and is not believed", async () => {
  await using cluster = await startTestCluster(["eu"]);
  const { sc } = cluster;
  const nc = await cluster.connect("eu");
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: "LEADERS", subjects: ["leaders.>"], num_replicas: 3 });
  assert.equal(await leaderLastSequence(jsm, "LEADERS"), 0, "an empty stream's");
  await jetstream(nc).publish("leaders.a", "1");
  await jetstream(nc).publish("leaders.b", "2");
  assert.equal(await leaderLastSequence(jsm, "LEADERS"), 2, "with a leader, its last sequence");
  const leader = (await jsm.streams.info("LEADERS")).cluster?.leader;
  const member = sc.servers("eu").map((s) => s.name).find((n) => n !== leader)!;

  // The member is left alone: paused while the two others crash, then resumed.
  Deno.kill(sc.pid(member), "SIGSTOP");
  try {
    await Promise.all(
      sc.servers("eu").filter((s) => s.name !== member).map((s) => sc.kill(s.name)),
    );
  } finally {
    Deno.kill(sc.pid(member), "SIGCONT");
  }
  const alone = await connectNats(
    { ...sc.target("eu"), url: sc.serverUrl(member) },
    { name: "alone", timeoutMs: 10_000 },
  );
  try {
    const jsmAlone = await jetstreamManager(alone, { checkAPI: false, timeout: 2000 });
    // Once it knows the group has no leader, the member answers STREAM.INFO from its own state
    // (nats-server 2.9): the answer of a replica that may lack the latest writes.
    const answered = await eventually(
      () => jsmAlone.streams.info("LEADERS").then((i) => i.state.last_seq, () => undefined),
      60_000,
      "the leaderless member to answer STREAM.INFO",
    );
    assert.ok(answered <= 2, `the member's own last sequence (${answered})`);
    // The leader's last sequence cannot be had: said as a transient error, not the member's.
    await assert.rejects(leaderLastSequence(jsmAlone, "LEADERS"), (e) => isTransientNatsError(e));
  } finally {
    await alone.close();
  }
});
