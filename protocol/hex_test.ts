import assert from "node:assert/strict";
import { sha256Hex, toHex } from "./hex.ts";

Deno.test("toHex spells every byte as two lowercase digits", () => {
  assert.equal(toHex(new Uint8Array([0, 1, 15, 16, 171, 255])), "00010f10abff");
  assert.equal(toHex(new Uint8Array([222, 173]).buffer), "dead");
  assert.equal(toHex(new Uint8Array(0)), "");
  const all = toHex(Uint8Array.from({ length: 256 }, (_, i) => i));
  assert.equal(all.length, 512);
  assert.equal(all.slice(-4), "feff");
});

Deno.test("sha256Hex gives the known digests of text and bytes, and of a view into a larger buffer", async () => {
  const abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  assert.equal(await sha256Hex("abc"), abc);
  assert.equal(await sha256Hex(new TextEncoder().encode("abc")), abc);
  assert.equal(await sha256Hex(new TextEncoder().encode("xabcx").subarray(1, 4)), abc);
  assert.equal(
    await sha256Hex(""),
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  );
});
