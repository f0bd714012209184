/**
 * Recognition on the device side with real onnxruntime-web: a model is refused at load when it is
 * corrupt, of the wrong input shape or trained for another label set (and the previous one keeps
 * serving); the default model decides a door session's cart through the session recognizer, and a
 * missing camera lowers the confidence instead of failing.
 */
import assert from "node:assert/strict";
import { loadModelDir } from "../cli/eval.ts";
import {
  buildSlotModel,
  evaluateSessions,
  exportOnnx,
  modelManifestFor,
  startTfjsWasm,
} from "../models/mod.ts";
import { DeviceRecognition } from "../edge/agent/mod.ts";
import { ModelLoadError, PlanogramError, SlotClassifier } from "../pipeline/mod.ts";
import { loadOrtWeb, loadWasmKernels } from "../wasm/mod.ts";
import { ROOT } from "./harness.ts";

const DEFAULT_MODEL = `${ROOT}models/build/default`;

async function tinyModel(labels: string[], size = 16) {
  await startTfjsWasm();
  const model = buildSlotModel({
    size,
    skuClasses: labels.length,
    seed: 3,
    filters: [2, 2, 2],
    hidden: 4,
  });
  const onnx = new Uint8Array(exportOnnx(model, { name: "slot_model" }));
  model.dispose();
  const manifest = await modelManifestFor(onnx, {
    name: "slot_model",
    version: "0.0.1",
    labels,
    maxCount: 4,
    input: { size, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] },
    catalogueVersion: "test",
    training: { seed: 3, seeds: [1, 1], epochs: 1, crops: 1, ms: 0 },
    metrics: { evalSeeds: [2, 2], crops: 1, skuAccuracy: 0, countAccuracy: 0, countEce: 0 },
  });
  return { onnx, manifest };
}

Deno.test("SlotClassifier refuses a corrupt, misshapen or foreign model, naming why", async () => {
  const ort = await loadOrtWeb();
  const labels = ["empty", "COLA-330", "WATER-500"];
  const { onnx, manifest } = await tinyModel(labels);
  const text = (m: unknown) => JSON.stringify(m);
  await using ok = await SlotClassifier.load(ort, { manifest: text(manifest), onnx });
  assert.equal(ok.size, 16);

  const corrupt = onnx.slice();
  corrupt[corrupt.length - 5]! ^= 0xff;
  await assert.rejects(
    () => SlotClassifier.load(ort, { manifest: text(manifest), onnx: corrupt }),
    (e) => e instanceof ModelLoadError && /slot_model.onnx is corrupt/.test(e.message),
  );
  // The manifest claims 32x32 crops; the network takes 16x16.
  await assert.rejects(
    () =>
      SlotClassifier.load(ort, {
        manifest: text({ ...manifest, input: { ...manifest.input, size: 32 } }),
        onnx,
      }),
    (e) => e instanceof ModelLoadError && /does not take a 32x32 NCHW crop/.test(e.message),
  );
  // Four labels in the manifest, three SKU outputs in the network.
  await assert.rejects(
    () =>
      SlotClassifier.load(ort, {
        manifest: text({ ...manifest, labels: [...labels, "MILK-250"] }),
        onnx,
      }),
    (e) =>
      e instanceof ModelLoadError &&
      /gives 3 SKU and 5 count classes, its manifest 4 labels/.test(e.message),
  );
  await assert.rejects(
    () => SlotClassifier.load(ort, { manifest: text(manifest), onnx }, { knownSkus: ["COLA-330"] }),
    (e) =>
      e instanceof ModelLoadError &&
      /labels WATER-500 are not in this machine's catalogue/.test(e.message),
  );
  await assert.rejects(
    () => SlotClassifier.load(ort, { manifest: text({ ...manifest, sha256: "x" }), onnx }),
    (e) => e instanceof ModelLoadError && /manifest is invalid: .*sha256/.test(e.message),
  );
  await assert.rejects(
    () => SlotClassifier.load(ort, { manifest: text(manifest), onnx: new Uint8Array(10) }),
    (e) => e instanceof ModelLoadError && /is corrupt \(10 bytes/.test(e.message),
  );
  // The model that loaded still answers.
  const p = await ok.classify(new Float32Array(2 * 3 * 16 * 16), 2);
  assert.equal(p.sku.length, 2 * 3);
  assert.equal(p.count.length, 2 * 5);
});

Deno.test("accuracy gate: the default model on unseen scenarios, clean and hard, within the targets", async () => {
  await Deno.stat(`${DEFAULT_MODEL}/model.json`).catch(() => {
    throw new Error(`${DEFAULT_MODEL} is missing: ./vend test trains it (or run ./vend train)`);
  });
  await using model = await loadModelDir(DEFAULT_MODEL);
  const kernels = await loadWasmKernels();
  // Seeds no training run uses (training 1..60, held-out crops 1000001.., ./vend eval 2000001..).
  const seeds = Array.from({ length: 25 }, (_, i) => 3_000_001 + i);
  const clean = await evaluateSessions(model, seeds, { kernels, hard: false });
  const hard = await evaluateSessions(model, seeds, { kernels, hard: true });
  const all = [...clean.outcomes, ...hard.outcomes];
  const show = (r: typeof clean) =>
    r.outcomes.filter((o) => !o.exact).map((o) =>
      `${o.seed}: ${o.truth} -> ${o.decided} ${o.reasons}`
    );
  assert.ok(clean.exactMatch >= 0.98, `clean ${clean.exactMatch}: ${show(clean)}`);
  assert.ok(hard.exactMatch >= 0.9, `hard ${hard.exactMatch}: ${show(hard)}`);
  const review = all.filter((o) => o.review).length / all.length;
  assert.ok(review <= 0.05, `review rate ${review}`);
  assert.equal(all.filter((o) => !o.exact && !o.review).length, 0, "no wrong charge");

  // Without cam-3 (a dead camera) the same sessions are decided with less confidence.
  const dropped = await evaluateSessions(model, seeds.slice(0, 8), {
    kernels,
    hard: false,
    dropCamera: "cam-3",
  });
  let lower = 0;
  dropped.outcomes.forEach((o, i) => (o.confidence <= clean.outcomes[i]!.confidence && lower++));
  assert.ok(lower >= 7, `confidence fell in ${lower} of 8 sessions without cam-3`);
  assert.equal(dropped.outcomes.filter((o) => !o.exact && !o.review).length, 0);
});

Deno.test("the default model follows a camera knocked after calibration and another site's light; without registration it does not", async () => {
  await using model = await loadModelDir(DEFAULT_MODEL);
  const kernels = await loadWasmKernels();
  const seeds = Array.from({ length: 12 }, (_, i) => 3_000_101 + i);
  // Every scenario: one camera a few pixels and degrees off, and the light of another site.
  const world = { knockedCamera: 1, siteLighting: 1 };
  const on = await evaluateSessions(model, seeds, { kernels, hard: false, world });
  const off = await evaluateSessions(model, seeds, {
    kernels,
    hard: false,
    world,
    registration: false,
  });
  const show = (r: typeof on) =>
    r.outcomes.filter((o) => !o.exact).map((o) =>
      `${o.seed}: ${o.truth} -> ${o.decided} ${o.reasons}`
    );
  assert.ok(on.exactMatch >= 0.9, `with registration ${on.exactMatch}: ${show(on)}`);
  assert.equal(on.wrongCharged, 0, show(on).join("; "));
  assert.ok(
    off.exactMatch <= on.exactMatch - 0.25,
    `without ${off.exactMatch}, with ${on.exactMatch}`,
  );
});

Deno.test("take/return events: the default model on unseen sessions filmed while the door is open", async () => {
  await using model = await loadModelDir(DEFAULT_MODEL);
  const kernels = await loadWasmKernels();
  const seeds = Array.from({ length: 8 }, (_, i) => 3_000_101 + i);
  const clean = await evaluateSessions(model, seeds, { kernels, hard: false, events: true });
  const hard = await evaluateSessions(model, seeds, { kernels, hard: true, events: true });
  const show = (r: typeof clean) =>
    r.outcomes.filter((o) => !o.eventsExact).map((o) =>
      `${o.seed}: ${o.truthEvents} -> ${o.decidedEvents}`
    ).join("; ");
  // ./vend eval --events measured 0.96 clean and 0.88 hard on 100 seeds.
  assert.ok(clean.eventMatch! >= 0.75, `clean ${clean.eventMatch}: ${show(clean)}`);
  assert.ok(hard.eventMatch! >= 0.6, `hard ${hard.eventMatch}: ${show(hard)}`);
  // Filming the open door changes nothing about the carts.
  assert.equal([...clean.outcomes, ...hard.outcomes].filter((o) => !o.exact).length, 0);
});

Deno.test("the native backend (onnxruntime-node) is selectable on the device and agrees with WASM", async () => {
  await using native = await DeviceRecognition.start(DEFAULT_MODEL, {
    backend: "native",
    planogram: { slots: [] },
  });
  assert.equal(native.modelVersion, "slot_model 1.0.0");
  // The same crops through both runtimes.
  const manifest = await Deno.readTextFile(`${DEFAULT_MODEL}/model.json`);
  const onnx = await Deno.readFile(`${DEFAULT_MODEL}/${JSON.parse(manifest).file}`);
  const ortNode = (await import("onnxruntime-node")) as unknown as Parameters<
    typeof SlotClassifier.load
  >[0];
  await using a = await SlotClassifier.load(ortNode, { manifest, onnx });
  await using b = await SlotClassifier.load(await loadOrtWeb(), { manifest, onnx });
  const s = a.size;
  const x = Float32Array.from({ length: 4 * 3 * s * s }, (_, i) => Math.sin(i * 0.01));
  const pa = await a.classify(x, 4);
  const pb = await b.classify(x, 4);
  let worst = 0;
  pa.count.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - pb.count[i]!))));
  pa.sku.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - pb.sku[i]!))));
  assert.ok(pa.hand && pb.hand, "the default model has a hand head");
  assert.equal(pa.hand.length, 4 * (a.manifest.labels.length + 1));
  pa.hand.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - pb.hand![i]!))));
  assert.ok(worst < 1e-4, `native and WASM differ by ${worst}`);
});

Deno.test("DeviceRecognition refuses a planogram with a slot no camera sees, and takes a SKU the model does not know", async () => {
  const region = { x0: 0.1, y0: 0.1, x1: 0.3, y1: 0.3 };
  const manifest = JSON.parse(await Deno.readTextFile(`${DEFAULT_MODEL}/model.json`));
  const known = manifest.labels[1] as string;
  const cameras = ["cam-1", "cam-2", "cam-3"];
  const planogram = (sku: string, cams: string[]) => ({
    slots: [
      { shelf: 0, slot: 0, sku: known, regions: { "cam-1": region } },
      { shelf: 0, slot: 1, sku, regions: Object.fromEntries(cams.map((k) => [k, region])) },
    ],
  });
  await assert.rejects(
    DeviceRecognition.start(DEFAULT_MODEL, { planogram: planogram(known, ["cam-9"]), cameras }),
    (e) => e instanceof PlanogramError && e.field === "slots.1.regions",
  );
  // A product newly stocked: taken (its sessions go to review, see decideCart).
  await using ok = await DeviceRecognition.start(DEFAULT_MODEL, {
    planogram: planogram("NEW-1", ["cam-2"]),
    cameras,
  });
  assert.equal(ok.modelVersion, "slot_model 1.0.0");
  assert.throws(
    () => ok.usePlanogram(planogram("NEW-2", ["cam-9"])),
    (e) => e instanceof PlanogramError && e.field === "slots.1.regions",
  );
  ok.usePlanogram(planogram("NEW-2", ["cam-3"]));
});

Deno.test("DeviceRecognition refuses a model update that forgets a SKU of its planogram the serving model knows, and keeps serving", async () => {
  const region = { x0: 0.1, y0: 0.1, x1: 0.3, y1: 0.3 };
  const manifest = JSON.parse(await Deno.readTextFile(`${DEFAULT_MODEL}/model.json`));
  const stocked = manifest.labels[1] as string;
  await using recognition = await DeviceRecognition.start(DEFAULT_MODEL, {
    planogram: { slots: [{ shelf: 0, slot: 0, sku: stocked, regions: { "cam-1": region } }] },
  });
  // The same network, version 9.0.0, whose labels name another product where `stocked` was.
  const dir = await Deno.makeTempDir({ prefix: "vend-model-" });
  const labels = manifest.labels.map((l: string) => (l === stocked ? "OTHER-1" : l));
  await Deno.writeTextFile(
    `${dir}/model.json`,
    JSON.stringify({ ...manifest, version: "9.0.0", labels }),
  );
  await Deno.copyFile(`${DEFAULT_MODEL}/${manifest.file}`, `${dir}/${manifest.file}`);
  await assert.rejects(
    recognition.useModelDir(dir),
    (e) => e instanceof ModelLoadError && /slots\.0\.sku/.test(e.message),
  );
  assert.equal(recognition.modelVersion, "slot_model 1.0.0");
  // A planogram without that SKU takes the new model.
  recognition.usePlanogram({
    slots: [{ shelf: 0, slot: 0, sku: null, regions: { "cam-1": region } }],
  });
  await recognition.useModelDir(dir);
  assert.equal(recognition.modelVersion, "slot_model 9.0.0");
  await Deno.remove(dir, { recursive: true });
});
