import assert from "node:assert/strict";
import { allMalformed, assertRefused, assertValid } from "./_family_test_util.ts";
import { telemetry } from "./telemetry.ts";
import fixtures from "./testdata/telemetry.json" with { type: "json" };

Deno.test("parseTelemetry accepts the fixtures and round-trips them", () => {
  assertValid(telemetry, fixtures);
});

Deno.test("parseTelemetry names the offending field of every malformed report", () => {
  const base = fixtures[0]!;
  const n = assertRefused(telemetry, [
    ...allMalformed(fixtures),
    {
      what: "cpu usage above 1",
      input: { ...base, cpu: { usage: 1.5, load1: 0 } },
      field: "cpu.usage",
    },
    { what: "absurd temperature", input: { ...base, temperatureC: 900 }, field: "temperatureC" },
    {
      what: "bad camera id",
      input: { ...base, cameras: [{ cameraId: "Cam 1", fps: 1, drops: 0, errors: 0 }] },
      field: "cameras[0].cameraId",
    },
    {
      what: "too many cameras",
      input: { ...base, cameras: Array(9).fill(base.cameras[0]) },
      field: "cameras",
    },
  ]);
  assert.ok(n >= 20, `only ${n} malformed reports`);
});
