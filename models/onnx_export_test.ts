import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { loadOrtWeb, referenceKernels } from "../wasm/mod.ts";
import { renderDataset } from "./dataset.ts";
import { exportOnnx, OnnxExportError } from "./onnx_export.ts";
import { buildSlotModel } from "./slot_model.ts";
import { nhwc, predictSlots, trainSlotModel } from "./trainer.ts";
import { startTfjsWasm } from "./tfjs_backend.ts";
import * as tfl from "@tensorflow/tfjs-layers";

Deno.test("the exported ONNX model gives tfjs's outputs within 1e-4 in onnxruntime-web", async () => {
  const data = renderDataset([3, 4], { kernels: referenceKernels, moments: 4 });
  const { model } = await trainSlotModel(data, {
    seed: 3,
    epochs: 1,
    filters: [8, 8, 8],
    hidden: 16,
  });
  const bytes = exportOnnx(model, { name: "slot_model_test" });
  const ort = await loadOrtWeb();
  const session = await ort.InferenceSession.create(bytes);
  assert.deepEqual([...session.inputNames], ["input"]);
  assert.deepEqual([...session.outputNames], ["sku", "count", "hand"]);
  const want = await predictSlots(model, data);
  const s = data.input.size;
  const out = await session.run({ input: new ort.Tensor("float32", data.x, [data.n, 3, s, s]) });
  const diff = (a: Float32Array, b: Float32Array) => {
    assert.equal(a.length, b.length);
    let worst = 0;
    a.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - b[i]!))));
    return worst;
  };
  const dSku = diff(out.sku!.data as Float32Array, want.sku);
  const dCount = diff(out.count!.data as Float32Array, want.count);
  const dHand = diff(out.hand!.data as Float32Array, want.hand);
  assert.ok(
    dSku < 1e-4 && dCount < 1e-4 && dHand < 1e-4,
    `worst differences: sku ${dSku}, count ${dCount}, hand ${dHand}`,
  );
  // The parity depends on the transposes: feeding NHWC-ordered data instead must not match.
  const wrong = await nhwc(data).data() as Float32Array;
  const bad = await session.run({ input: new ort.Tensor("float32", wrong, [data.n, 3, s, s]) });
  assert.ok(diff(bad.sku!.data as Float32Array, want.sku) > 1e-2);
  await session.release();
  model.dispose();
});

Deno.test("exportOnnx refuses a layer it does not know, naming it", async () => {
  await startTfjsWasm();
  const input = tfl.input({ shape: [8, 8, 3] });
  const y = tfl.layers.batchNormalization({ name: "bn" }).apply(input) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: input, outputs: y });
  assert.throws(
    () => exportOnnx(model, { name: "x" }),
    (e) => e instanceof OnnxExportError && /layer bn: BatchNormalization/.test(e.message),
  );
  model.dispose();
  tf.disposeVariables();
  const ok = buildSlotModel({ size: 8, skuClasses: 3, seed: 1, filters: [2, 2, 2], hidden: 2 });
  assert.ok(exportOnnx(ok, { name: "y" }).length > 100);
  ok.dispose();
});
