import assert from "node:assert/strict";
import { regionStreams, STREAM_KINDS, type StreamKind, streamName } from "./streams.ts";

Deno.test("streamName spells <KIND>_<REGION> with the region upper-cased", () => {
  assert.equal(streamName("PAYMENTS", "eu-west"), "PAYMENTS_EU-WEST");
  assert.equal(streamName("EVENTS", "local"), "EVENTS_LOCAL");
  assert.equal(streamName("UPDATES", "us"), "UPDATES_US");
});

Deno.test("regionStreams names each of its streams with streamName, one per kind", () => {
  assert.deepEqual(regionStreams("eu-west").map((s) => s.name), [
    "EVENTS_EU-WEST",
    "TELEMETRY_EU-WEST",
    "UPDATES_EU-WEST",
    "ALERTS_EU-WEST",
    "AUDIT_EU-WEST",
    "PAYMENTS_EU-WEST",
  ]);
  assert.deepEqual(
    regionStreams("local").map((s) => s.name),
    STREAM_KINDS.map((k) => streamName(k, "local")),
  );
});

Deno.test("streamName refuses a region with a dot", () => {
  assert.throws(() => streamName("PAYMENTS", "eu.west"), TypeError);
  assert.throws(() => streamName("PAYMENTS", "eu.west"), /region "eu\.west"/);
});

Deno.test("streamName refuses a region that is a wildcard, upper-case, empty or not a string", () => {
  for (const region of ["*", ">", "EU", "", "eu west", "-eu"]) {
    assert.throws(() => streamName("EVENTS", region), TypeError, JSON.stringify(region));
  }
  assert.throws(() => streamName("EVENTS", undefined as unknown as string), /region undefined/);
});

Deno.test("streamName refuses a kind that is not a region stream", () => {
  for (const kind of ["payments", "KV", "EVENTS_LOCAL", ""]) {
    assert.throws(() => streamName(kind as StreamKind, "local"), RangeError, JSON.stringify(kind));
  }
});
