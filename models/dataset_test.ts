import assert from "node:assert/strict";
import { referenceKernels } from "../wasm/mod.ts";
import { datasetMoments, handClass, renderDataset } from "./dataset.ts";
import { randomScenario } from "../pipeline/mod.ts";

Deno.test("handClass numbers no hand 0, an empty hand 1 and a hand holding label i 1 + i", () => {
  const labels = ["empty", "A", "B"];
  assert.equal(handClass({ hand: false, holding: null }, labels), 0);
  assert.equal(handClass({ hand: true, holding: null }, labels), 1);
  assert.equal(handClass({ hand: true, holding: "B" }, labels), 3);
});

Deno.test("datasetMoments films before and after each session, then at the hand's actions", () => {
  const scenario = randomScenario(5, { sessions: 2 });
  const t = datasetMoments(scenario, 8, 5);
  assert.equal(t.length, 8);
  const [s1, s2] = scenario.sessions;
  assert.deepEqual(t.slice(0, 4), [
    s1!.openAt - 100,
    s1!.closeAt + 400,
    s2!.openAt - 100,
    s2!.closeAt + 400,
  ]);
  for (const m of t.slice(4)) {
    assert.ok(scenario.actions.some((a) => Math.abs(a.at - m) <= 300), `${m} is near no action`);
  }
});

Deno.test("renderDataset labels crops of hands holding products, and keeps few open-door crops", () => {
  const seeds = [21, 22, 23, 24];
  const data = renderDataset(seeds, {
    kernels: referenceKernels,
    input: {
      size: 16,
      mean: [0.45, 0.45, 0.45],
      std: [0.25, 0.25, 0.25],
      frame: { width: 160, height: 120 },
    },
    moments: 8,
    inSessionCrops: 3,
  });
  assert.equal(data.hand.length, data.n);
  assert.equal(data.x.length, data.n * 3 * 16 * 16);
  // 4 closed-door moments x 3 cameras x 12 slots, and at most 3 + 3 crops per camera while open.
  assert.ok(data.n <= seeds.length * (4 * 36 + 4 * 3 * 6), `${data.n} crops`);
  assert.ok(data.n > seeds.length * 4 * 36, `${data.n} crops`);
  const held = [...data.hand].filter((h) => h > 1);
  assert.ok(held.length > 0, "no crop of a hand holding a product");
  assert.ok(held.every((h) => h <= data.labels.length));
  assert.ok([...data.hand].some((h) => h === 1), "no crop of an empty hand or an arm");
});
