import assert from "node:assert/strict";
import { allMalformed, assertRefused, assertValid } from "./_family_test_util.ts";
import { heartbeat, parseHeartbeat } from "./heartbeat.ts";
import fixtures from "./testdata/heartbeat.json" with { type: "json" };

Deno.test("parseHeartbeat accepts the fixtures and round-trips them", () => {
  assertValid(heartbeat, fixtures);
});

Deno.test("parseHeartbeat names the offending field of every malformed heartbeat", () => {
  const base = fixtures[0]!;
  const n = assertRefused(heartbeat, [
    ...allMalformed(fixtures),
    { what: "schema version 2", input: { ...base, v: 2 }, field: "v" },
    { what: "negative seq", input: { ...base, seq: -1 }, field: "seq" },
    { what: "fractional uptime", input: { ...base, uptimeMs: 1.5 }, field: "uptimeMs" },
    { what: "upper-case device id", input: { ...base, deviceId: "M001-A" }, field: "deviceId" },
    {
      what: "device id with a subject wildcard",
      input: { ...base, deviceId: "m001.*" },
      field: "deviceId",
    },
    { what: "short message id", input: { ...base, id: "abc" }, field: "id" },
    { what: "unknown role", input: { ...base, role: "tertiary" }, field: "role" },
    { what: "unknown door state", input: { ...base, door: "ajar" }, field: "door" },
  ]);
  assert.ok(n >= 20, `only ${n} malformed heartbeats`);
});

Deno.test("parseHeartbeat reports a version mismatch in plain words", () => {
  const result = parseHeartbeat({ ...fixtures[0], v: 2 });
  assert.equal(result.ok, false);
  assert.match(!result.ok ? result.error.message : "", /field "v": unsupported schema version/);
});
