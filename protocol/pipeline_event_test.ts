import assert from "node:assert/strict";
import { allMalformed, assertRefused, assertValid } from "./_family_test_util.ts";
import { pipelineEvent } from "./pipeline_event.ts";
import fixtures from "./testdata/pipeline_event.json" with { type: "json" };

Deno.test("parsePipelineEvent accepts the fixtures and round-trips them", () => {
  assertValid(pipelineEvent, fixtures);
});

Deno.test("parsePipelineEvent names the offending field of every malformed event", () => {
  const done = fixtures.find((f) => f.type === "session_completed")!;
  const withEvidence = fixtures.find((f) => f.type === "session_completed" && "evidence" in f)!;
  const evidence = withEvidence.evidence!;
  const slotWith = (r: Record<string, number>) => {
    const s = evidence.slots[0]!;
    const before = { ...s.regions["cam-1"]!.before, ...r };
    return { ...s, regions: { "cam-1": { before } } };
  };
  const n = assertRefused(pipelineEvent, [
    ...allMalformed(fixtures, {
      discriminators: ["type"],
      optional: ["evidence"],
      opaque: ["evidence.before.gain", "evidence.after.gain", "evidence.slots[0].regions"],
    }),
    {
      what: "duplicate SKU in the cart",
      input: { ...done, cart: [{ sku: "A1", qty: 1 }, { sku: "A1", qty: 2 }] },
      field: "cart[1].sku",
    },
    {
      what: "zero quantity",
      input: { ...done, cart: [{ sku: "A1", qty: 0 }] },
      field: "cart[0].qty",
    },
    {
      what: "closed before opened",
      input: { ...done, closedAt: done.openedAt! - 1 },
      field: "closedAt",
    },
    { what: "confidence above 1", input: { ...done, confidence: 1.01 }, field: "confidence" },
    {
      what: "an evidence region drawn right to left",
      input: {
        ...withEvidence,
        evidence: { ...evidence, slots: [slotWith({ x0: 0.5, x1: 0.2 })] },
      },
      field: "evidence.slots[0].regions.cam-1.before.x1",
    },
    {
      what: "evidence read after the door closed before the one before it opened",
      input: { ...withEvidence, evidence: { ...evidence, after: { ...evidence.after, ts: 1 } } },
      field: "evidence.after.ts",
    },
  ]);
  assert.ok(n >= 20, `only ${n} malformed events`);
});
