import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { FileChunkStore, PooledChunkStore } from "./chunk_store.ts";

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

Deno.test("FileChunkStore keeps, reads and drops chunks by SHA-256", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vend-chunks-" });
  const store = new FileChunkStore(`${dir}/chunks`);
  const data = new Uint8Array(1000).fill(7);
  const name = sha(data);
  assert.equal(await store.has(name), false);
  assert.equal(await store.get(name), undefined);
  await store.put(name, data);
  assert.equal(await store.has(name), true);
  assert.deepEqual(await store.get(name), data);
  await store.delete(name);
  await store.delete(name); // twice is fine
  assert.equal(await store.has(name), false);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("FileChunkStore refuses a name that is not a SHA-256", async () => {
  const store = new FileChunkStore("/tmp/never-made");
  await assert.rejects(() => store.put("../etc/passwd", new Uint8Array(1)), {
    name: "TypeError",
    message: /chunk name "\.\.\/etc\/passwd"/,
  });
  await assert.rejects(() => store.has("ABC"), TypeError);
});

Deno.test("FileChunkStore writers of the same chunk at once leave it whole, with no leftovers", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vend-chunks-" });
  const store = new FileChunkStore(dir);
  const data = new Uint8Array(4 << 20).map((_, i) => i * 31);
  const name = sha(data);
  await Promise.all(Array.from({ length: 8 }, () => store.put(name, data)));
  assert.equal(sha((await store.get(name))!), name);
  const names = (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name);
  assert.deepEqual(names, [name]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("PooledChunkStore counts chunks per device while the pool keeps each once", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vend-pool-" });
  const pool = new FileChunkStore(dir);
  const a = new PooledChunkStore(pool);
  const b = new PooledChunkStore(pool);
  const data = new Uint8Array(500).fill(1);
  const name = sha(data);
  await a.put(name, data);
  assert.equal(await a.has(name), true);
  assert.equal(await b.has(name), false, "b did not download it");
  assert.equal(await b.get(name), undefined);
  await b.put(name, data);
  assert.deepEqual(await b.get(name), data);
  await a.delete(name);
  assert.equal(await a.has(name), false);
  assert.equal(await b.has(name), true);
  assert.equal((await Array.fromAsync(Deno.readDir(dir))).length, 1);
  await Deno.remove(dir, { recursive: true });
});
