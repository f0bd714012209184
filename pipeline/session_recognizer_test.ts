import assert from "node:assert/strict";
import type { ModelManifest } from "../protocol/mod.ts";
import { referenceKernels } from "../wasm/mod.ts";
import { createFrame } from "./frame.ts";
import { createFrameSet } from "./frame_set.ts";
import type { Planogram } from "./planogram.ts";
import { RESTOCK_SETTLE_MS, SessionRecognizer, type SlotModel } from "./session_recognizer.ts";
import { randomScenario, type Scenario } from "./scenario.ts";
import { renderView } from "./synthetic_camera.ts";
import { simulatedPlanogram } from "./planogram.ts";
import type { SlotProbabilities } from "./slot_classifier.ts";

const labels = ["empty", "COLA-330"];

const manifest: ModelManifest = {
  name: "fake",
  version: "0.0.1",
  format: "onnx",
  file: "fake.onnx",
  sha256: "0".repeat(64),
  bytes: 1,
  input: { name: "input", layout: "NCHW", size: 8, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] },
  outputs: { sku: "sku", count: "count", hand: "hand" },
  labels,
  maxCount: 4,
  catalogueVersion: "test",
  training: { seed: 1, seeds: [1, 1], epochs: 1, crops: 1, ms: 0 },
  metrics: { evalSeeds: [2, 2], crops: 1, skuAccuracy: 1, countAccuracy: 1, countEce: 0 },
  createdAt: 0,
};

/**
 * A model (simulated, no network) that reads the unit count from a crop's brightness (one unit
 * per 50 levels of the red channel) and sees a hand where the green channel is bright; it records
 * each call and how many ran at once.
 */
class BrightnessModel implements SlotModel {
  readonly manifest = manifest;
  readonly calls: number[] = [];
  #active = 0;
  maxActive = 0;

  async classify(batch: Float32Array, n: number): Promise<SlotProbabilities> {
    this.#active++;
    this.maxActive = Math.max(this.maxActive, this.#active);
    this.calls.push(n);
    await new Promise((r) => setTimeout(r, 5));
    const per = 3 * 8 * 8;
    const sku = new Float32Array(n * 2);
    const count = new Float32Array(n * 5);
    const hand = new Float32Array(n * 3);
    for (let i = 0; i < n; i++) {
      const red = batch[i * per]! * 0.25 + 0.5; // undo the normalisation: 0..1
      const green = batch[i * per + 64]! * 0.25 + 0.5;
      const units = Math.min(4, Math.round((red * 255) / 50));
      sku.set(units > 0 ? [0.02, 0.98] : [0.98, 0.02], i * 2);
      for (let c = 0; c < 5; c++) count[i * 5 + c] = c === units ? 0.96 : 0.01;
      hand.set(green > 0.5 ? [0.02, 0.02, 0.96] : [0.98, 0.01, 0.01], i * 3);
    }
    this.#active--;
    return { n, sku, count, hand };
  }
}

const planogram: Planogram = {
  slots: [{
    shelf: 0,
    slot: 0,
    sku: "COLA-330",
    regions: { "cam-1": { x0: 0, y0: 0, x1: 1, y1: 1 } },
  }],
};

/** A 16x16 frame set whose slot shows `units` units, with a hand over it or not. */
function frameSet(ts: number, units: number, hand = false) {
  const data = new Uint8Array(16 * 16 * 4);
  for (let i = 0; i < data.length; i += 4) {
    data[i] = units * 50;
    data[i + 1] = hand ? 250 : 0;
    data[i + 3] = 255;
  }
  const frame = createFrame({
    cameraId: "cam-1",
    deviceId: "m001-a",
    seq: ts,
    ts,
    width: 16,
    height: 16,
    format: "rgba",
    data,
  });
  return createFrameSet(ts, new Map([["cam-1", frame]]), []);
}

Deno.test("SessionRecognizer classifies the open door in the background and reports a take", async () => {
  const model = new BrightnessModel();
  const recognizer = new SessionRecognizer(model, planogram, {
    kernels: referenceKernels,
    settleMs: 0,
  });
  const film = (ts: number, units: number, hand = false) => {
    using set = frameSet(ts, units, hand);
    recognizer.observe(set);
  };
  for (let ts = 0; ts < 3000; ts += 150) film(ts, 3);
  assert.deepEqual(model.calls, [], "nothing is classified while the door is closed");
  recognizer.open({ sessionId: "s1", openedAt: 3000 });
  // Open door: 3 units, the hand takes one (hand over the slot, holding it), 2 units left.
  const script = [3, 3, 3, 3, 3, 3, -1, -1, 2, 2, 2, 2, 2, 2];
  for (const [i, u] of script.entries()) {
    film(3000 + i * 150, u < 0 ? 2 : u, u < 0);
    await new Promise((r) => setTimeout(r, 10)); // frames arrive over time
  }
  const inBackground = model.calls.length;
  assert.ok(inBackground >= 2, `${inBackground} calls before the door closed`);
  const closedAt = 3000 + script.length * 150;
  const deciding = recognizer.decide({ sessionId: "s1", openedAt: 3000, closedAt });
  for (let ts = closedAt; ts < closedAt + 600; ts += 150) film(ts, 2);
  const d = await deciding;
  assert.deepEqual(d.cart, [{ sku: "COLA-330", qty: 1 }]);
  assert.deepEqual(d.reviewReasons, []);
  assert.deepEqual(d.events?.map((e) => [e.kind, e.sku, e.at]), [[
    "take",
    "COLA-330",
    3000 + 6 * 150,
  ]]);
  assert.equal(model.maxActive, 1, "one model call at a time");
  // The evidence: the last picture before the door opened and the first after it settled.
  assert.equal(d.evidence?.before.ts, 2850);
  assert.equal(d.evidence?.after.ts, closedAt);
  assert.deepEqual(d.evidence?.slots.map((s) => [s.sku, s.before, s.after, s.regions]), [[
    "COLA-330",
    { sku: "COLA-330", skuP: 0.98, count: 3, countP: 0.96 },
    { sku: "COLA-330", skuP: 0.98, count: 2, countP: 0.96 },
    {
      "cam-1": {
        before: planogram.slots[0]!.regions["cam-1"],
        after: planogram.slots[0]!.regions["cam-1"],
      },
    },
  ]]);
  assert.deepEqual(d.evidence?.before.gain, { "cam-1": [1, 1, 1] });
  // Every picture was classified once at most: 3 before, the open door's, the 3 or 4 after.
  const crops = model.calls.reduce((a, b) => a + b, 0);
  assert.ok(crops >= 3 + script.length + 3 && crops <= 3 + script.length + 4, `${crops} crops`);
});

Deno.test("SessionRecognizer keeps only the last pictures while the door is closed", async () => {
  const model = new BrightnessModel();
  const recognizer = new SessionRecognizer(model, planogram, {
    kernels: referenceKernels,
    settleMs: 0,
  });
  for (let ts = 0; ts < 60_000; ts += 150) {
    using set = frameSet(ts, 2);
    recognizer.observe(set);
  }
  // Deciding a session that opened a minute ago, without having been told: no picture before.
  const deciding = recognizer.decide({ sessionId: "s2", openedAt: 1000, closedAt: 59_000 });
  for (let ts = 60_000; ts < 60_600; ts += 150) {
    using set = frameSet(ts, 2);
    recognizer.observe(set);
  }
  const d = await deciding;
  assert.deepEqual(d.reviewReasons, ["no picture of the shelves before the door opened"]);
  assert.ok(model.calls.reduce((a, b) => a + b, 0) <= 7 + 4, `${model.calls} crops classified`);
});

Deno.test("SessionRecognizer reports a failed background classification, and the decision fails with it", async () => {
  const broken: SlotModel = {
    manifest,
    classify: () => Promise.reject(new Error("out of memory")),
  };
  const errors: Error[] = [];
  const recognizer = new SessionRecognizer(broken, planogram, {
    kernels: referenceKernels,
    settleMs: 0,
    waitMs: 10,
    onError: (e) => errors.push(e),
  });
  const film = (ts: number) => {
    using set = frameSet(ts, 2);
    recognizer.observe(set);
  };
  for (let ts = 0; ts < 600; ts += 150) film(ts);
  recognizer.open({ sessionId: "s3", openedAt: 600 });
  for (let ts = 600; ts < 1500; ts += 150) {
    film(ts);
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.ok(errors.length >= 1, "the background failure is reported");
  assert.match(errors[0]!.message, /out of memory/);
  for (let ts = 1500; ts < 2100; ts += 150) film(ts);
  await assert.rejects(
    recognizer.decide({ sessionId: "s3", openedAt: 600, closedAt: 1500 }),
    /out of memory/,
  );
});

Deno.test("SessionRecognizer decides a session by the planogram in force when its door opened", async () => {
  const model = new BrightnessModel();
  const withSku = (sku: string): Planogram => ({
    slots: [{ ...planogram.slots[0]!, sku }],
  });
  let current = withSku("TEA-500");
  const recognizer = new SessionRecognizer(model, () => current, {
    kernels: referenceKernels,
    settleMs: 0,
  });
  const film = (ts: number, units: number) => {
    using set = frameSet(ts, units);
    recognizer.observe(set);
  };
  // The pictures before the door opened were cut while the slot was planned as TEA-500.
  for (let ts = 0; ts < 3000; ts += 150) film(ts, 3);
  current = withSku("COLA-330");
  recognizer.open({ sessionId: "s1", openedAt: 3000 });
  for (let ts = 3000; ts < 4500; ts += 150) film(ts, 2);
  // A planogram arriving while the door is open is the next session's.
  current = withSku("WATER-500");
  const deciding = recognizer.decide({ sessionId: "s1", openedAt: 3000, closedAt: 4500 });
  for (let ts = 4500; ts < 5100; ts += 150) film(ts, 2);
  const d = await deciding;
  assert.deepEqual(d.cart, [{ sku: "COLA-330", qty: 1 }]);
  assert.deepEqual(d.reviewReasons, []);
});

Deno.test("SessionRecognizer measures a camera against its calibration, and renews the reference only once a restock has settled", () => {
  const W = 320, H = 240;
  const scene = randomScenario(2000005);
  const restocked = randomScenario(2000006); // other products in the slots
  const warm = {
    ...scene,
    site: { tint: [1.08, 0.94, 0.76] as [number, number, number], slope: 0 },
  };
  const set = (s: Scenario, ts: number) =>
    createFrameSet(
      ts,
      new Map([[
        "cam-1",
        createFrame({
          cameraId: "cam-1",
          deviceId: "m001-a",
          seq: ts,
          ts,
          width: W,
          height: H,
          format: "rgba",
          data: renderView(s, "cam-1", 200, { width: W, height: H }),
        }),
      ]]),
      [],
    );
  let planogram = simulatedPlanogram(scene);
  const recognizer = new SessionRecognizer(new BrightnessModel(), () => planogram, {
    kernels: referenceKernels,
  });
  const gain = () => recognizer.cameraMotion("cam-1")!.gain;
  recognizer.observe(set(scene, 1000));
  assert.deepEqual(gain(), [1, 1, 1], "no reference before the shelves have settled");
  recognizer.observe(set(scene, 1000 + RESTOCK_SETTLE_MS)); // the reference
  recognizer.observe(set(warm, 1200 + RESTOCK_SETTLE_MS));
  assert.ok(gain()[2] > 1.2, `another light is measured: ${gain()}`);
  // A restock: a new planogram, and pictures of the old shelves still on their way.
  planogram = { slots: planogram.slots.map((s) => ({ ...s })) };
  const t = 1400 + RESTOCK_SETTLE_MS;
  recognizer.observe(set(scene, t));
  assert.deepEqual(gain(), [1, 1, 1], "no correction while the restock settles");
  recognizer.observe(set(restocked, t + RESTOCK_SETTLE_MS - 100));
  assert.deepEqual(gain(), [1, 1, 1]);
  recognizer.observe(set(restocked, t + RESTOCK_SETTLE_MS)); // the new reference
  recognizer.observe(set(restocked, t + RESTOCK_SETTLE_MS + 200));
  assert.deepEqual(gain(), [1, 1, 1], "the restocked shelves under the same light");
  assert.deepEqual([recognizer.cameraMotion("cam-1")!.dx, recognizer.cameraMotion("cam-1")!.dy], [
    0,
    0,
  ]);
});

/** Films a session: 3 units before, one taken (no hand shown), 2 after; returns the decision. */
async function takeOne(recognizer: SessionRecognizer, sessionId: string, t0: number) {
  const film = (ts: number, units: number) => {
    using set = frameSet(ts, units);
    recognizer.observe(set);
  };
  for (let ts = t0; ts < t0 + 1500; ts += 150) film(ts, 3);
  const openedAt = t0 + 1500;
  recognizer.open({ sessionId, openedAt });
  for (let i = 0; i < 8; i++) {
    film(openedAt + i * 150, i < 4 ? 3 : 2);
    await new Promise((r) => setTimeout(r, 10));
  }
  const closedAt = openedAt + 8 * 150;
  const deciding = recognizer.decide({ sessionId, openedAt, closedAt });
  for (let ts = closedAt; ts < closedAt + 600; ts += 150) film(ts, 2);
  return await deciding;
}

Deno.test("SessionRecognizer runs a candidate model beside the live one on the same crops, never failing the live decision", async () => {
  const live = new BrightnessModel();
  /** A candidate (version 0.0.2) that never sees more than 2 units. */
  class Candidate extends BrightnessModel {
    override readonly manifest = { ...manifest, version: "0.0.2" };
    fail = false;
    override async classify(batch: Float32Array, n: number): Promise<SlotProbabilities> {
      if (this.fail) throw new Error("out of memory");
      const p = await super.classify(batch, n);
      for (let i = 0; i < n; i++) {
        const row = p.count.subarray(i * 5, i * 5 + 5);
        const units = row.indexOf(Math.max(...row));
        row.fill(0.01).set([0.96], Math.min(2, units));
      }
      return p;
    }
  }
  const candidate = new Candidate();
  const errors: Error[] = [];
  const recognizer = new SessionRecognizer(live, planogram, {
    kernels: referenceKernels,
    settleMs: 0,
    onError: (e) => errors.push(e),
  });
  // Crops cut for the live model must fit the candidate.
  const bigger: SlotModel = {
    manifest: { ...manifest, input: { ...manifest.input, size: 16 } },
    classify: (batch, n) => live.classify(batch, n),
  };
  assert.throws(
    () => recognizer.useCandidate(bigger),
    (e) => e instanceof RangeError && /16x16 crops, the live model 8x8/.test(e.message),
  );
  recognizer.useCandidate(candidate);
  const d = await takeOne(recognizer, "s1", 0);
  assert.deepEqual(d.cart, [{ sku: "COLA-330", qty: 1 }], "the live model decides the cart");
  assert.ok(d.candidate, "the candidate decided the same session");
  assert.equal(d.candidate.decision.modelVersion, "0.0.2");
  // 3 and 2 units both seen as 2: the candidate's own decision, nothing taken.
  assert.deepEqual(d.candidate.decision.cart, []);
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  assert.equal(sum(candidate.calls), sum(live.calls), "the same crops, each once");
  assert.ok(d.candidate.liveMs > 0 && d.candidate.candidateMs > 0, JSON.stringify(d.candidate));
  // A candidate that fails is stopped and said; the live decision stands.
  candidate.fail = true;
  const e = await takeOne(recognizer, "s2", 10_000);
  assert.deepEqual(e.cart, [{ sku: "COLA-330", qty: 1 }]);
  assert.equal(e.candidate, undefined);
  assert.equal(recognizer.candidate, undefined);
  assert.match(errors[0]?.message ?? "", /candidate model fake 0\.0\.2 failed and was stopped/);
  assert.equal(errors.length, 1, "stopped at its first failure");
});
