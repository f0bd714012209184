/** readingYourWrites on a real nats-server: a bucket that lacks a key reads it from the original. */
import assert from "node:assert/strict";
import { Kvm } from "@nats-io/kv";
import { readingYourWrites } from "../cloud/mod.ts";
import { startTestNats } from "./harness.ts";

Deno.test("readingYourWrites reads from the original a key its mirror lacks or holds older than written through it, and keeps the mirror's answer when the original cannot answer", async () => {
  await using nats = await startTestNats();
  const nc = await nats.connect();
  try {
    const kvm = new Kvm(nc);
    const original = await kvm.create("ryw_original", { history: 1 });
    // A mirror that is behind: it has the old key, not the one just created.
    const behind = await kvm.create("ryw_behind", { history: 1 });
    await behind.put("old", "3");
    await original.put("old", "3");
    await original.put("fresh", "9");
    let opened = 0;
    let up = true;
    const kv = readingYourWrites(behind, () => {
      opened++;
      return up ? kvm.open("ryw_original") : Promise.reject(new Error("no responders"));
    });
    assert.equal((await kv.get("old"))?.string(), "3");
    assert.equal(opened, 0, "a key the mirror holds is not asked of the original");
    assert.equal((await kv.get("fresh"))?.string(), "9");
    assert.equal(await kv.get("nowhere"), null);
    assert.equal(opened, 1, "the original is opened once");
    // Written through it, a key reads back at that revision while the mirror still holds an
    // older one. (A mirror-opened KV reads the mirror and writes the original: here `behind`
    // answers reads and `original` takes the writes; revisions are aligned as a mirror's are.)
    const split = new Proxy(behind, {
      get(target, prop) {
        const from = prop === "put" || prop === "update" || prop === "create" ? original : target;
        const value = Reflect.get(from, prop, from);
        return typeof value === "function" ? value.bind(from) : value;
      },
    });
    const own = readingYourWrites(split, () => kvm.open("ryw_original"));
    await behind.put("cus", "before"); // the mirror's copy, revision 2 of `behind`
    const rev = await own.put("cus", "after"); // revision 3 of `original`
    assert.ok(rev > (await behind.get("cus"))!.revision);
    assert.equal((await own.get("cus"))?.string(), "after");
    // Without the write remembered, the mirror's answer is taken.
    assert.equal(
      (await readingYourWrites(split, () => kvm.open("ryw_original")).get("cus"))
        ?.string(),
      "before",
    );
    // The rest is the mirror's own (its name, its watch).
    assert.equal((await kv.status()).bucket, "ryw_behind");
    // The original cannot be reached (its region is down): the miss stands, and the next miss
    // tries again.
    const cut = readingYourWrites(behind, () => {
      opened++;
      return up ? kvm.open("ryw_original") : Promise.reject(new Error("no responders"));
    });
    up = false;
    assert.equal(await cut.get("fresh"), null);
    up = true;
    assert.equal((await cut.get("fresh"))?.string(), "9");
  } finally {
    await nc.close();
  }
});
