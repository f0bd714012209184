import assert from "node:assert/strict";
import { referenceKernels } from "../wasm/mod.ts";
import { type Dataset, renderDataset } from "./dataset.ts";
import { exportOnnx } from "./onnx_export.ts";
import { importOnnx, OnnxImportError } from "./onnx_import.ts";
import { predictSlots, trainSlotModel } from "./trainer.ts";

const data = renderDataset([5, 6], { kernels: referenceKernels, moments: 4 });
const trained = await trainSlotModel(data, { seed: 5, epochs: 2, filters: [8, 8, 8], hidden: 16 });
const onnx = exportOnnx(trained.model, { name: "slot_model_test" });

const argmax = (p: Float32Array, k: number, i: number) => {
  const row = p.subarray(i * k, (i + 1) * k);
  return row.indexOf(Math.max(...row));
};

Deno.test("importOnnx gives back the exported model: the same outputs", async () => {
  const model = await importOnnx(onnx, { baseLabels: data.labels });
  const want = await predictSlots(trained.model, data);
  const got = await predictSlots(model, data);
  for (const head of ["sku", "count", "hand"] as const) {
    let worst = 0;
    want[head].forEach((v, i) => (worst = Math.max(worst, Math.abs(v - got[head][i]!))));
    assert.ok(worst < 1e-5, `${head} differs by ${worst}`);
  }
  model.dispose();
});

Deno.test("importOnnx adds a label the base did not know, keeping every known label's weights", async () => {
  const labels = [...data.labels, "NEW-1"];
  const model = await importOnnx(onnx, { baseLabels: data.labels, labels });
  const wider: Dataset = { ...data, labels };
  const want = await predictSlots(trained.model, data);
  const got = await predictSlots(model, wider);
  const k = data.labels.length;
  let same = 0;
  let newP = 0;
  for (let i = 0; i < data.n; i++) {
    if (argmax(want.sku, k, i) === argmax(got.sku, k + 1, i)) same++;
    newP += got.sku[i * (k + 1) + k]!;
  }
  assert.ok(same / data.n >= 0.98, `${same} of ${data.n} crops read as before`);
  assert.ok(newP / data.n < 0.05, `the new label takes ${(newP / data.n).toFixed(3)} on average`);
  // And it can be fine-tuned on the wider labels.
  const tuned = await trainSlotModel(wider, { seed: 1, epochs: 1, base: model });
  assert.equal(tuned.model, model);
  assert.equal(tuned.losses.length, 1);
  model.dispose();
});

Deno.test("importOnnx refuses what is not a slot model of the base's labels", async () => {
  await assert.rejects(
    () => importOnnx(crypto.getRandomValues(new Uint8Array(64)), { baseLabels: data.labels }),
    OnnxImportError,
  );
  await assert.rejects(
    () => importOnnx(onnx, { baseLabels: data.labels.slice(0, 5) }),
    OnnxImportError,
  );
  await assert.rejects(
    () => importOnnx(onnx, { baseLabels: data.labels, labels: data.labels.slice(0, 5) }),
    TypeError,
  );
  await assert.rejects(
    async () =>
      await trainSlotModel(data, {
        seed: 1,
        epochs: 1,
        base: await importOnnx(onnx, { baseLabels: data.labels, labels: [...data.labels, "X-1"] }),
      }),
    RangeError,
  );
});
