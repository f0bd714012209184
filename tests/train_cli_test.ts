/** `./vend train`'s work: a small model trained, exported, checked and written whole. */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { seedRange, train } from "../cli/train.ts";
import { modelManifest } from "../protocol/mod.ts";

Deno.test("train writes a verified model artifact with its report, and refuses overlapping seeds", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vend-train-" });
  const out = `${dir}/model`;
  const lines: string[] = [];
  const figures = await train({
    seeds: [1, 2],
    evalSeeds: [1_000_001, 1_000_001],
    epochs: 1,
    seed: 5,
    filters: [4, 8, 8],
    hidden: 8,
    version: "0.0.1",
    out,
    progress: (line, final) => final && lines.push(line),
  });
  assert.ok(
    lines.some((l) => /^\[#+\] epoch 1\/1 batch \d+\/\d+ loss \d+\.\d{4} ETA 0:00$/.test(l)),
    lines.join("\n"),
  );
  const manifest = modelManifest.parse(await Deno.readTextFile(`${out}/model.json`));
  assert.ok(manifest.ok, JSON.stringify(manifest));
  const onnx = await Deno.readFile(`${out}/${manifest.value.file}`);
  assert.equal(manifest.value.sha256, createHash("sha256").update(onnx).digest("hex"));
  assert.equal(manifest.value.bytes, onnx.length);
  assert.equal(manifest.value.labels[0], "empty");
  assert.equal(manifest.value.metrics.crops, figures.eval_crops);
  assert.ok(figures.parity_max_abs! < 1e-4);
  const report = JSON.parse(await Deno.readTextFile(`${out}/report.json`));
  assert.equal(report.skuConfusion.length, manifest.value.labels.length);
  assert.match(await Deno.readTextFile(`${out}/confusion_sku.svg`), /^<svg/);
  assert.match(await Deno.readTextFile(`${out}/report.md`), /SKU accuracy \d+\.\d\d%/);
  // The hand head: an output in the manifest, figures in the report, its confusion picture.
  assert.equal(manifest.value.outputs.hand, "hand");
  assert.ok(typeof manifest.value.metrics.handAccuracy === "number");
  assert.equal(report.hand.confusion.length, manifest.value.labels.length + 1);
  assert.match(await Deno.readTextFile(`${out}/confusion_hand.svg`), /no hand/);
  assert.match(await Deno.readTextFile(`${out}/report.md`), /Hand head: class accuracy/);
  // Nothing is left aside.
  assert.deepEqual((await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name), ["model"]);
  await assert.rejects(
    () =>
      train({
        seeds: [1, 10],
        evalSeeds: [5, 20],
        epochs: 1,
        seed: 1,
        filters: [4, 4, 4],
        hidden: 4,
        version: "0.0.1",
        out,
      }),
    /Evaluation seeds 5..20 overlap training seeds 1..10/,
  );
  assert.throws(() => seedRange("10..2", "--seeds"), /Invalid --seeds "10..2"/);
  assert.deepEqual(seedRange("3..7", "--seeds"), [3, 7]);
  await Deno.remove(dir, { recursive: true });
});
