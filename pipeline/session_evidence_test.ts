import assert from "node:assert/strict";
import { sessionEvidence } from "./session_evidence.ts";
import type { SlotEvidence } from "./cart_decision.ts";

const labels = ["empty", "COLA-330", "WATER-500"];
const view = (cameraId: string, sku: number[], count: number[]) => ({
  cameraId,
  sku: Float32Array.from(sku),
  count: Float32Array.from(count),
});

Deno.test("sessionEvidence pools a slot's cameras and keeps where each cut it", () => {
  const before: SlotEvidence[] = [
    {
      shelf: 0,
      slot: 1,
      sku: "WATER-500",
      views: [
        view("cam-1", [0.1, 0.3, 0.6], [0, 0.2, 0.8]),
        view("cam-2", [0.1, 0.2, 0.7], [0, 0.4, 0.6]),
      ],
    },
    { shelf: 1, slot: 0, sku: null, views: [] },
  ];
  const after: SlotEvidence[] = [
    { ...before[0]!, views: [view("cam-1", [0.1, 0.2, 0.7], [0.1, 0.8, 0.1])] },
    before[1]!,
  ];
  const r = { x0: 0.123456, y0: 0.1, x1: 0.3, y1: 0.4 };
  const moved = { x0: 0.2, y0: 0.1, x1: 0.4, y1: 0.4 };
  const e = sessionEvidence(
    {
      ts: 100,
      gain: { "cam-1": [1.23456, 1, 0.9] },
      evidence: before,
      regions: [{ "cam-1": r, "cam-2": r }, {}],
    },
    { ts: 900, gain: { "cam-1": [1, 1, 1] }, evidence: after, regions: [{ "cam-1": moved }, {}] },
    { labels, planogramVersion: 7 },
  );
  assert.equal(e.planogramVersion, 7);
  assert.deepEqual(e.before, { ts: 100, gain: { "cam-1": [1.235, 1, 0.9] } });
  const [slot, empty] = e.slots;
  // Pooled: 0.6 * 0.7 against 0.3 * 0.2 and 0.01: WATER-500; two units, 0.8 * 0.6 against 0.2 * 0.4.
  assert.equal(slot?.before?.sku, "WATER-500");
  assert.equal(slot?.before?.skuP, Math.round((0.42 / (0.42 + 0.06 + 0.01)) * 1e4) / 1e4);
  assert.equal(slot?.before?.count, 2);
  assert.equal(slot?.before?.countP, Math.round((0.48 / (0.48 + 0.08 + 1e-12)) * 1e4) / 1e4);
  assert.deepEqual(slot?.after, { sku: "WATER-500", skuP: 0.7, count: 1, countP: 0.8 });
  assert.deepEqual(slot?.regions, {
    "cam-1": { before: { ...r, x0: 0.1235 }, after: moved },
    "cam-2": { before: { ...r, x0: 0.1235 } },
  });
  assert.deepEqual(empty, { shelf: 1, slot: 0, sku: null, before: null, after: null, regions: {} });
});

Deno.test("sessionEvidence refuses moments of different slots", () => {
  const slot: SlotEvidence = { shelf: 0, slot: 0, sku: null, views: [] };
  assert.throws(
    () =>
      sessionEvidence(
        { ts: 0, gain: {}, evidence: [slot], regions: [{}] },
        { ts: 1, gain: {}, evidence: [], regions: [] },
        { labels },
      ),
    RangeError,
  );
});
