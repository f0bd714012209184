/**
 * `./vend train`: renders the synthetic dataset, trains the slot model with tfjs on WASM, exports
 * it to ONNX, checks that onnxruntime-web gives tfjs's outputs within 1e-4 on the evaluation
 * crops, evaluates it on held-out seeds, and writes the versioned model artifact with its report:
 *
 * - `slot_model.onnx`, `model.json` (the manifest: SHA-256, input spec, labels, metrics)
 * - `report.json` (accuracy, per-class figures, confusion, calibration), `report.md`,
 *   `confusion_sku.svg`, `confusion_count.svg`, `confusion_hand.svg`
 *
 * The folder is written aside and renamed into place, so it is never half-written. Progress
 * (epoch, loss, time left) is a bar on stderr.
 *
 * @example
 * ```sh
 * ./vend train --seeds 1..40 --eval-seeds 1000001..1000020 --epochs 5 --out models/build/default
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import {
  confusionSvg,
  type Dataset,
  DEFAULT_CATALOGUE,
  DEFAULT_INPUT,
  evaluateSlots,
  exportOnnx,
  MAX_COUNT,
  modelManifestFor,
  predictSlots,
  renderDataset,
  type SlotEvaluation,
  type TrainProgress,
  trainSlotModel,
} from "../models/mod.ts";
import { loadOrtWeb, loadWasmKernels } from "../wasm/mod.ts";

/** The default model: what `./vend` builds for tests and the demo when it is missing. */
export const DEFAULT_TRAINING = {
  seeds: [1, 60] as [number, number],
  evalSeeds: [1_000_001, 1_000_012] as [number, number],
  epochs: 5,
  seed: 1,
  filters: [8, 16, 32] as [number, number, number],
  hidden: 48,
  size: 48,
  // Before and after each of a scenario's two sessions (the moments a cart is decided from),
  // and four while a hand takes or returns a unit (only the slots around the hand are kept).
  moments: 8,
  version: "1.0.0",
};

/** Parses `A..B` into an inclusive range. */
export function seedRange(text: string, what: string): [number, number] {
  const m = /^(\d+)\.\.(\d+)$/.exec(text);
  const a = Number(m?.[1]);
  const b = Number(m?.[2]);
  if (!m || !(a <= b) || b - a > 100_000) {
    throw new TypeError(`Invalid ${what} "${text}": expected A..B with A <= B (at most 100,000)`);
  }
  return [a, b];
}

function bar(p: TrainProgress): string {
  const done = ((p.epoch - 1) * p.batches + p.batch) / (p.epochs * p.batches);
  const width = 30;
  const full = Math.round(done * width);
  const eta = Math.round(p.etaMs / 1000);
  const mm = String(Math.floor(eta / 60));
  const ss = String(eta % 60).padStart(2, "0");
  return `[${"#".repeat(full)}${"-".repeat(width - full)}] epoch ${p.epoch}/${p.epochs} ` +
    `batch ${p.batch}/${p.batches} loss ${p.loss.toFixed(4)} ETA ${mm}:${ss}`;
}

const range = (r: [number, number]) => Array.from({ length: r[1] - r[0] + 1 }, (_, i) => r[0] + i);

/** Trains and writes a model artifact into `out`; resolves with its manifest's metrics. */
export async function train(options: {
  seeds: [number, number];
  evalSeeds: [number, number];
  epochs: number;
  seed: number;
  filters: [number, number, number];
  hidden: number;
  version: string;
  out: string;
  /** Side of the input crops. Default 32. */
  size?: number;
  /** Moments rendered per training scenario. Default 8. */
  moments?: number;
  progress?: (line: string, final: boolean) => void;
}): Promise<Record<string, number>> {
  const [a, b] = options.seeds;
  const [c, d] = options.evalSeeds;
  if (!(b < c || d < a)) {
    throw new TypeError(`Evaluation seeds ${c}..${d} overlap training seeds ${a}..${b}`);
  }
  const say = options.progress ?? (() => {});
  const kernels = await loadWasmKernels();
  say(`rendering ${b - a + 1} training scenarios`, true);
  const input = { ...DEFAULT_INPUT, size: options.size ?? DEFAULT_INPUT.size };
  const data = renderDataset(range(options.seeds), {
    kernels,
    input,
    ...(options.moments ? { moments: options.moments } : {}),
  });
  const held = renderDataset(range(options.evalSeeds), { kernels, input });
  say(`training on ${data.n} crops (${held.n} held out)`, true);
  let last = 0;
  const trained = await trainSlotModel(data, {
    seed: options.seed,
    epochs: options.epochs,
    filters: options.filters,
    hidden: options.hidden,
    onProgress: (p) => {
      const end = p.batch === p.batches;
      if (end || performance.now() - last > 250) {
        last = performance.now();
        say(bar(p), end);
      }
    },
  });
  const predicted = await predictSlots(trained.model, held);
  const report = evaluateSlots(predicted, {
    sku: held.sku,
    count: held.count,
    hand: held.hand,
    labels: held.labels,
    maxCount: MAX_COUNT,
  });
  const onnx = new Uint8Array(exportOnnx(trained.model, { name: "slot_model" }));
  const parity = await onnxParity(onnx, held, predicted);
  if (!(parity < 1e-4)) {
    throw new Error(`The ONNX export differs from tfjs by ${parity} (limit 1e-4); not written`);
  }
  const manifest = await modelManifestFor(onnx, {
    name: "slot_model",
    version: options.version,
    labels: data.labels,
    maxCount: MAX_COUNT,
    hand: true,
    input: data.input,
    catalogueVersion: DEFAULT_CATALOGUE.version,
    training: {
      seed: options.seed,
      seeds: options.seeds,
      epochs: options.epochs,
      crops: data.n,
      ms: Math.round(trained.ms),
    },
    metrics: {
      evalSeeds: options.evalSeeds,
      crops: held.n,
      skuAccuracy: report.skuAccuracy,
      countAccuracy: report.countAccuracy,
      countEce: report.countEce,
      ...(report.hand
        ? { handAccuracy: report.hand.accuracy, heldAccuracy: report.hand.heldAccuracy }
        : {}),
    },
  });
  trained.model.dispose();
  await writeArtifact(options.out, {
    onnx,
    manifest,
    report,
    parity,
    losses: trained.losses,
    held,
  });
  return {
    crops: data.n,
    eval_crops: held.n,
    sku_accuracy: report.skuAccuracy,
    count_accuracy: report.countAccuracy,
    count_ece: report.countEce,
    ...(report.hand
      ? {
        hand_accuracy: report.hand.accuracy,
        hand_presence_accuracy: report.hand.presenceAccuracy,
        held_accuracy: report.hand.heldAccuracy,
      }
      : {}),
    parity_max_abs: parity,
    train_ms: Math.round(trained.ms),
  };
}

/**
 * The largest difference between the exported ONNX graph's outputs on the held-out crops and
 * tfjs's (the device runs the ONNX file, so they must agree).
 */
async function onnxParity(
  onnx: Uint8Array<ArrayBuffer>,
  held: Dataset,
  predicted: Awaited<ReturnType<typeof predictSlots>>,
): Promise<number> {
  const ort = await loadOrtWeb();
  const session = await ort.InferenceSession.create(onnx);
  const s = held.input.size;
  const out = await session.run({ input: new ort.Tensor("float32", held.x, [held.n, 3, s, s]) });
  let parity = 0;
  for (
    const [name, want] of [
      ["sku", predicted.sku],
      ["count", predicted.count],
      ["hand", predicted.hand],
    ] as const
  ) {
    const got = out[name]!.data as Float32Array;
    want.forEach((v, i) => (parity = Math.max(parity, Math.abs(v - got[i]!))));
  }
  await session.release();
  return parity;
}

/**
 * Writes the artifact (the ONNX file, its manifest, the report and its plots) into a temporary
 * folder beside `out`, then puts it in place of whatever `out` held: never half a model.
 */
async function writeArtifact(
  out: string,
  { onnx, manifest, report, parity, losses, held }: {
    onnx: Uint8Array<ArrayBuffer>;
    manifest: Awaited<ReturnType<typeof modelManifestFor>>;
    report: SlotEvaluation;
    parity: number;
    losses: readonly number[];
    held: Dataset;
  },
): Promise<void> {
  const tmp = `${out}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  await Deno.mkdir(tmp, { recursive: true });
  await Deno.writeFile(`${tmp}/${manifest.file}`, onnx);
  await Deno.writeTextFile(`${tmp}/model.json`, JSON.stringify(manifest, null, 2) + "\n");
  await Deno.writeTextFile(
    `${tmp}/report.json`,
    JSON.stringify({ ...report, parityMaxAbs: parity, losses }, null, 2) + "\n",
  );
  await Deno.writeTextFile(
    `${tmp}/confusion_sku.svg`,
    confusionSvg(report.skuConfusion, held.labels, { title: "SKU (held-out crops)" }),
  );
  await Deno.writeTextFile(
    `${tmp}/confusion_count.svg`,
    confusionSvg(report.countConfusion, report.countClasses.map((c) => c.label), {
      title: "Unit count (held-out crops)",
    }),
  );
  if (report.hand) {
    await Deno.writeTextFile(
      `${tmp}/confusion_hand.svg`,
      confusionSvg(report.hand.confusion, ["no hand", ...held.labels.map((l) => `hand+${l}`)], {
        title: "Hand over the slot (held-out crops)",
      }),
    );
  }
  await Deno.writeTextFile(`${tmp}/report.md`, markdown(manifest, report, parity));
  await Deno.remove(out, { recursive: true }).catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e; // no earlier model there
  });
  await Deno.rename(tmp, out);
}

function markdown(
  m: Awaited<ReturnType<typeof modelManifestFor>>,
  r: ReturnType<typeof evaluateSlots>,
  parity: number,
): string {
  const pct = (x: number) => Number.isNaN(x) ? "n/a" : `${(x * 100).toFixed(2)}%`;
  return [
    `# ${m.name} ${m.version}`,
    "",
    `Trained on seeds ${
      m.training.seeds.join("..")
    } (${m.training.crops} crops, ${m.training.epochs} epochs, ` +
    `${(m.training.ms / 1000).toFixed(0)} s); evaluated on held-out seeds ${
      m.metrics.evalSeeds.join("..")
    } ` +
    `(${m.metrics.crops} crops). ONNX file ${m.file}, ${m.bytes} bytes, SHA-256 ${m.sha256}; ` +
    `onnxruntime-web matches tfjs within ${parity.toExponential(2)}.`,
    "",
    `- SKU accuracy ${pct(r.skuAccuracy)}, count accuracy ${pct(r.countAccuracy)}, ` +
    `count calibration error (ECE, 10 bins) ${r.countEce.toFixed(4)}`,
    ...(r.hand
      ? [
        `- Hand head: class accuracy ${pct(r.hand.accuracy)}, hand seen or not ${
          pct(r.hand.presenceAccuracy)
        }, product in the hand named ${pct(r.hand.heldAccuracy)} of ${r.hand.held} crops`,
      ]
      : []),
    "",
    "| class | support | recall | precision |",
    "| ----- | ------- | ------ | --------- |",
    ...[...r.skuClasses, ...r.countClasses].map((c) =>
      `| ${c.label} | ${c.support} | ${pct(c.recall)} | ${pct(c.precision)} |`
    ),
    "",
    "| confidence | crops | mean confidence | accuracy |",
    "| ---------- | ----- | --------------- | -------- |",
    ...r.countReliability.filter((b) => b.n > 0).map((b) =>
      `| ${b.from.toFixed(1)}-${b.to.toFixed(1)} | ${b.n} | ${b.meanConfidence.toFixed(3)} | ${
        pct(b.accuracy)
      } |`
    ),
    "",
    "![SKU confusion](confusion_sku.svg) ![Count confusion](confusion_count.svg)" +
    (r.hand ? " ![Hand confusion](confusion_hand.svg)" : ""),
    "",
  ].join("\n");
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      seeds: { type: "string" },
      "eval-seeds": { type: "string" },
      epochs: { type: "string" },
      seed: { type: "string" },
      out: { type: "string", default: "models/build/default" },
      version: { type: "string" },
      quiet: { type: "boolean", default: false },
      filters: { type: "string" },
      size: { type: "string" },
      moments: { type: "string" },
      hidden: { type: "string" },
    },
    strict: true,
  });
  try {
    const epochs = Number(values.epochs ?? DEFAULT_TRAINING.epochs);
    if (!Number.isInteger(epochs) || epochs < 1 || epochs > 1000) {
      throw new TypeError(`Invalid --epochs "${values.epochs}": expected 1-1000`);
    }
    const tty = Deno.stderr.isTerminal();
    const encoder = new TextEncoder();
    const figures = await train({
      ...DEFAULT_TRAINING,
      seeds: values.seeds ? seedRange(values.seeds, "--seeds") : DEFAULT_TRAINING.seeds,
      evalSeeds: values["eval-seeds"]
        ? seedRange(values["eval-seeds"], "--eval-seeds")
        : DEFAULT_TRAINING.evalSeeds,
      epochs,
      seed: Number(values.seed ?? DEFAULT_TRAINING.seed),
      filters: values.filters
        ? values.filters.split(",").map(Number) as [number, number, number]
        : DEFAULT_TRAINING.filters,
      hidden: Number(values.hidden ?? DEFAULT_TRAINING.hidden),
      size: Number(values.size ?? DEFAULT_TRAINING.size),
      moments: Number(values.moments ?? DEFAULT_TRAINING.moments),
      version: values.version ?? DEFAULT_TRAINING.version,
      out: values.out,
      progress: (line, final) => {
        if (values.quiet) return;
        if (tty) Deno.stderr.writeSync(encoder.encode(`\r\x1b[2K${line}${final ? "\n" : ""}`));
        else if (final) console.error(line);
      },
    });
    console.error(`wrote ${values.out}`);
    console.log(JSON.stringify(figures));
  } catch (e) {
    console.error(`vend train: ${(e as Error).message}`);
    Deno.exit(e instanceof TypeError ? 2 : 1);
  }
}
