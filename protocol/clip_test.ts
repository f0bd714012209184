import assert from "node:assert/strict";
import { allMalformed, assertRefused, assertValid } from "./_family_test_util.ts";
import { clipUploaded } from "./clip.ts";
import fixtures from "./testdata/clip_uploaded.json" with { type: "json" };

Deno.test("parseClipUploaded accepts the fixtures and round-trips them", () => {
  assertValid(clipUploaded, fixtures);
});

Deno.test("parseClipUploaded names the offending field of every malformed event", () => {
  const base = fixtures[0]!;
  const n = assertRefused(clipUploaded, [
    ...allMalformed(fixtures),
    { what: "upper-case digest", input: { ...base, sha256: "A".repeat(64) }, field: "sha256" },
    { what: "empty clip", input: { ...base, bytes: 0 }, field: "bytes" },
    { what: "unknown codec", input: { ...base, codec: "vp9" }, field: "codec" },
    { what: "ends before it starts", input: { ...base, endTs: base.startTs - 1 }, field: "endTs" },
  ]);
  assert.ok(n >= 20, `only ${n} malformed events`);
});
