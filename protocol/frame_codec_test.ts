import assert from "node:assert/strict";
import { allMalformed, assertRefused, assertValid } from "./_family_test_util.ts";
import { decodeFrame, encodeFrame, frameHeader, framePixelBytes } from "./frame_codec.ts";
import fixtures from "./testdata/frame_header.json" with { type: "json" };
import type { FrameHeader } from "./frame_codec.ts";

const header = fixtures[0] as FrameHeader;

Deno.test("parse of a frame header accepts the fixture and round-trips it", () => {
  assertValid(frameHeader, fixtures);
});

Deno.test("frame header parsing names the offending field of every malformed header", () => {
  const n = assertRefused(frameHeader, [
    ...allMalformed(fixtures),
    { what: "zero width", input: { ...header, width: 0 }, field: "width" },
    { what: "unknown format", input: { ...header, format: "nv12" }, field: "format" },
  ]);
  assert.ok(n >= 20, `only ${n} malformed headers`);
});

Deno.test("encodeFrame and decodeFrame carry a frame intact", () => {
  const pixels = Uint8Array.from({ length: framePixelBytes(header) }, (_, i) => i * 7);
  const decoded = decodeFrame(encodeFrame(header, pixels));
  assert.ok(decoded.ok);
  assert.deepEqual(decoded.value.header, header);
  assert.deepEqual([...decoded.value.pixels], [...pixels]);
});

Deno.test("decodeFrame refuses truncated, foreign and inconsistent frames without throwing", () => {
  const good = encodeFrame(header, new Uint8Array(framePixelBytes(header)));
  const cases: Array<[string, Uint8Array, RegExp]> = [
    ["empty", new Uint8Array(0), /preamble/],
    ["foreign magic", new Uint8Array([1, 2, 3, 4, 0, 0, 0, 0]), /VSF1/],
    ["truncated pixels", good.subarray(0, good.length - 1), /pixel bytes .* expected 20/],
    ["header past the end", good.subarray(0, 20), /runs past the end/],
  ];
  for (const [what, bytes, pattern] of cases) {
    const r = decodeFrame(bytes);
    assert.equal(r.ok, false, what);
    assert.match(!r.ok ? r.error.message : "", pattern, what);
  }
  assert.throws(() => encodeFrame(header, new Uint8Array(3)), /3 pixel bytes, expected 20/);
});
