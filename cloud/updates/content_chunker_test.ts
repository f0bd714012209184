import assert from "node:assert/strict";
import { contentChunks } from "./content_chunker.ts";
import { createHash } from "node:crypto";

/** Deterministic incompressible bytes: SHA-256 of the seed and a counter, 32 bytes at a time. */
function noise(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let at = 0, i = 0; at < n; at += 32, i++) {
    out.set(createHash("sha256").update(`${seed}:${i}`).digest().subarray(0, n - at), at);
  }
  return out;
}

const key = (d: Uint8Array, c: { offset: number; bytes: number }) =>
  Array.from(d.subarray(c.offset, c.offset + c.bytes).subarray(0, 32)).join(",") + `/${c.bytes}`;

Deno.test("contentChunks covers the data with chunks within bounds, deterministically", () => {
  const data = noise(3 << 20, 1);
  const chunks = contentChunks(data);
  assert.deepEqual(chunks, contentChunks(data));
  let at = 0;
  for (const [i, c] of chunks.entries()) {
    assert.equal(c.offset, at);
    assert.ok(c.bytes <= 256 * 1024);
    if (i < chunks.length - 1) assert.ok(c.bytes >= 16 * 1024, `chunk ${i} of ${c.bytes}`);
    at += c.bytes;
  }
  assert.equal(at, data.length);
  const mean = data.length / chunks.length;
  assert.ok(mean > 32 * 1024 && mean < 128 * 1024, `mean chunk ${mean}`);
});

Deno.test("contentChunks keeps most chunks when bytes are inserted near the start", () => {
  const data = noise(4 << 20, 2);
  const edited = new Uint8Array(data.length + 100);
  edited.set(data.subarray(0, 5000));
  edited.set(noise(100, 3), 5000);
  edited.set(data.subarray(5000), 5100);
  const before = new Set(contentChunks(data).map((c) => key(data, c)));
  const after = contentChunks(edited).map((c) => key(edited, c));
  const kept = after.filter((k) => before.has(k)).length;
  assert.ok(kept >= after.length - 3, `only ${kept} of ${after.length} chunks kept`);
});

Deno.test("contentChunks refuses bad sizes and handles small inputs", () => {
  assert.throws(
    () => contentChunks(new Uint8Array(10), { min: 100, avg: 50, max: 200 }),
    RangeError,
  );
  assert.throws(
    () => contentChunks(new Uint8Array(10), { min: 100, avg: 1000, max: 5000 }),
    /power of two/,
  );
  assert.deepEqual(contentChunks(new Uint8Array(0)), []);
  assert.deepEqual(contentChunks(new Uint8Array(10)), [{ offset: 0, bytes: 10 }]);
});
