/**
 * `./vend train --from-field`: fine-tunes the current model on field crops (the labelled field
 * samples of the region's API, cut again from their clips, see `models/field_crops.ts`) mixed
 * with synthetic ones, so a product the model never saw is learnt from the sessions a reviewer
 * corrected. A fifth of the sessions (by a hash of their id) is held out and never trained on;
 * the candidate and its base are both evaluated on them and on the synthetic suite. The artifact
 * holds the ONNX file and its manifest (the labels grown by the new SKUs), `report.json` and
 * `report.md` with the comparison and confusion plots, and `lineage.json`: the base model, the
 * sessions trained on and held out, and the code's commit. It is written aside and renamed into
 * place. The API and its token come from the environment (`VEND_API_URL`, `VEND_API_TOKEN`),
 * never a flag.
 *
 * @example
 * ```sh
 * VEND_API_URL=https://vend.example.com VEND_API_TOKEN=... \
 *   ./vend train --from-field --base models/build/default --since 2026-11-01 --out models/build/field
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { z } from "zod";
import {
  confusionSvg,
  type Dataset,
  DEFAULT_INPUT,
  evaluateSlots,
  exportOnnx,
  fieldCrops,
  type FieldSampleInput,
  importOnnx,
  MAX_COUNT,
  modelManifestFor,
  predictSlots,
  renderDataset,
  type SlotEvaluation,
  type TrainProgress,
  trainSlotModel,
} from "../models/mod.ts";
import { ClipDecoder } from "../pipeline/mod.ts";
import { type ModelManifest, modelManifest } from "../protocol/mod.ts";
import { loadWasmKernels } from "../wasm/mod.ts";

/** What {@link trainFromField} takes. */
export interface TrainFromFieldOptions {
  /** The labelled field samples (the API's export). */
  readonly samples: readonly FieldSampleInput[];
  readonly readClip: (sessionId: string, object: string) => Promise<Uint8Array>;
  /** The model to fine-tune: an artifact folder. */
  readonly base: string;
  readonly out: string;
  /** Default the base's with the patch raised. */
  readonly version?: string;
  /** Default 3. */
  readonly epochs?: number;
  /** Synthetic scenarios mixed in, and the synthetic suite evaluated. */
  readonly syntheticSeeds?: readonly [number, number];
  readonly evalSeeds?: readonly [number, number];
  /** Share of sessions held out, 0..1. Default 0.2. */
  readonly heldOut?: number;
  /** How many times each field crop is repeated in the training set. Default 4. */
  readonly fieldWeight?: number;
  readonly progress?: (line: string, final: boolean) => void;
}

const range = (r: readonly [number, number]) =>
  Array.from({ length: r[1] - r[0] + 1 }, (_, i) => r[0] + i);

/** Whether a session is held out: the first byte of its id's SHA-256 below `share` of 256. */
async function heldOut(sessionId: string, share: number): Promise<boolean> {
  const d = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(sessionId)),
  );
  return d[0]! < share * 256;
}

function concat(parts: readonly Dataset[], repeat: readonly number[]): Dataset {
  const first = parts[0]!;
  const per = 3 * first.input.size * first.input.size;
  const n = parts.reduce((s, p, i) => s + p.n * repeat[i]!, 0);
  const out = {
    n,
    x: new Float32Array(n * per),
    sku: new Int32Array(n),
    count: new Int32Array(n),
    hand: new Int32Array(n),
    hard: new Uint8Array(n),
    input: first.input,
    labels: first.labels,
  };
  let at = 0;
  parts.forEach((p, i) => {
    for (let r = 0; r < repeat[i]!; r++) {
      out.x.set(p.x, at * per);
      out.sku.set(p.sku, at);
      out.count.set(p.count, at);
      out.hand.set(p.hand, at);
      out.hard.set(p.hard, at);
      at += p.n;
    }
  });
  return out;
}

function bar(p: TrainProgress): string {
  const done = ((p.epoch - 1) * p.batches + p.batch) / (p.epochs * p.batches);
  const full = Math.round(done * 30);
  const eta = Math.round(p.etaMs / 1000);
  return `[${"#".repeat(full)}${"-".repeat(30 - full)}] epoch ${p.epoch}/${p.epochs} ` +
    `loss ${p.loss.toFixed(4)} ETA ${Math.floor(eta / 60)}:${String(eta % 60).padStart(2, "0")}`;
}

async function readBase(dir: string): Promise<{ manifest: ModelManifest; onnx: Uint8Array }> {
  const parsed = modelManifest.parse(await Deno.readTextFile(`${dir}/model.json`));
  if (!parsed.ok) throw new TypeError(`Invalid --base ${dir}: ${parsed.error.message}`);
  return { manifest: parsed.value, onnx: await Deno.readFile(`${dir}/${parsed.value.file}`) };
}

async function commitOf(): Promise<string | null> {
  try {
    const out = await new Deno.Command("git", { args: ["rev-parse", "HEAD"], stderr: "null" })
      .output();
    return out.success ? new TextDecoder().decode(out.stdout).trim() : null;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null; // no git here
    throw e;
  }
}

/** Fine-tunes the base on the field samples; writes the artifact; resolves with its figures. */
export async function trainFromField(o: TrainFromFieldOptions): Promise<Record<string, unknown>> {
  const say = o.progress ?? (() => {});
  const started = performance.now();
  const base = await readBase(o.base);
  const baseLabels = base.manifest.labels;
  // The labels grow by the SKUs the machines' planograms hold that the base does not know.
  const fresh = new Set<string>();
  for (const x of o.samples) {
    for (const s of x.planogram.slots) if (s.sku && !baseLabels.includes(s.sku)) fresh.add(s.sku);
  }
  const labels = [...baseLabels, ...[...fresh].sort()];
  const { size, mean, std } = base.manifest.input;
  const input = { ...DEFAULT_INPUT, size, mean, std };
  const kernels = await loadWasmKernels();
  const share = o.heldOut ?? 0.2;
  const train: FieldSampleInput[] = [];
  const held: FieldSampleInput[] = [];
  for (const x of o.samples) (await heldOut(x.sample.sessionId, share) ? held : train).push(x);
  say(`cutting crops from ${o.samples.length} field sessions (${held.length} held out)`, true);
  await using decoder = new ClipDecoder();
  const common = { labels, modelLabels: baseLabels, input, kernels, decoder, readClip: o.readClip };
  const field = await fieldCrops(train, common);
  const fieldHeld = await fieldCrops(held, common);
  if (field.dataset.n === 0) {
    throw new RangeError(
      `No field crop to train on (left out: ${JSON.stringify(field.skipped)})`,
    );
  }
  const synthSeeds = o.syntheticSeeds ?? [1, 12];
  const evalSeeds = o.evalSeeds ?? [1_000_001, 1_000_006];
  const synth = { ...renderDataset(range(synthSeeds), { kernels, input, moments: 4 }), labels };
  const synthEval = { ...renderDataset(range(evalSeeds), { kernels, input }), labels };
  const data = concat([synth, field.dataset], [1, o.fieldWeight ?? 4]);
  say(`fine-tuning on ${data.n} crops (${field.dataset.n} from the field)`, true);
  const model = await importOnnx(base.onnx, { baseLabels, labels });
  let last = 0;
  const epochs = o.epochs ?? 3;
  const trained = await trainSlotModel(data, {
    seed: 1,
    epochs,
    base: model,
    learningRate: 0.001,
    onProgress: (p) => {
      const end = p.batch === p.batches;
      if (end || performance.now() - last > 250) {
        last = performance.now();
        say(bar(p), end);
      }
    },
  });
  const report = await compare(trained.model, base.onnx, {
    baseLabels,
    labels,
    sets: { field: fieldHeld.dataset, synthetic: synthEval },
  });
  const onnx = new Uint8Array(exportOnnx(trained.model, { name: base.manifest.name }));
  trained.model.dispose();
  const [maj, min, patch] = base.manifest.version.split(/[.+-]/).map(Number);
  const version = o.version ?? `${maj}.${min}.${(patch ?? 0) + 1}`;
  const synthetic = report.candidate.synthetic!;
  const manifest = await modelManifestFor(onnx, {
    name: base.manifest.name,
    version,
    labels,
    maxCount: MAX_COUNT,
    hand: true,
    input: { size, mean, std },
    catalogueVersion: base.manifest.catalogueVersion,
    training: {
      seed: 1,
      seeds: [...synthSeeds] as [number, number],
      epochs,
      crops: data.n,
      ms: Math.round(trained.ms),
    },
    metrics: {
      evalSeeds: [...evalSeeds] as [number, number],
      crops: synthEval.n,
      skuAccuracy: synthetic.skuAccuracy,
      countAccuracy: synthetic.countAccuracy,
      countEce: synthetic.countEce,
      ...(synthetic.hand ? { handAccuracy: synthetic.hand.accuracy } : {}),
    },
  });
  const lineage = {
    base: {
      name: base.manifest.name,
      version: base.manifest.version,
      sha256: base.manifest.sha256,
    },
    newLabels: [...fresh].sort(),
    samples: {
      trained: field.sessions,
      heldOut: fieldHeld.sessions,
      skipped: field.skipped,
      heldOutSkipped: fieldHeld.skipped,
    },
    code: await commitOf(),
    createdAt: manifest.createdAt,
  };
  await writeArtifact(o.out, { onnx, manifest, report, lineage, labels });
  const figure = (r: SlotEvaluation | null) => r ? r.skuAccuracy : null;
  return {
    version,
    labels: labels.length,
    new_labels: [...fresh].sort(),
    field_sessions_trained: field.sessions.length,
    field_sessions_held_out: fieldHeld.sessions.length,
    field_crops: field.dataset.n,
    field_held_crops: fieldHeld.dataset.n,
    sku_accuracy_field_held: figure(report.candidate.field),
    sku_accuracy_field_held_base: figure(report.base.field),
    sku_accuracy_synthetic: figure(report.candidate.synthetic),
    sku_accuracy_synthetic_base: figure(report.base.synthetic),
    train_ms: Math.round(trained.ms),
    total_ms: Math.round(performance.now() - started),
  };
}

/** The candidate and its base on the held-out sets (null: a set without crops). */
async function compare(
  candidate: Awaited<ReturnType<typeof importOnnx>>,
  baseOnnx: Uint8Array,
  o: {
    baseLabels: readonly string[];
    labels: readonly string[];
    sets: { field: Dataset; synthetic: Dataset };
  },
): Promise<Record<"candidate" | "base", Record<"field" | "synthetic", SlotEvaluation | null>>> {
  const base = await importOnnx(baseOnnx, { baseLabels: o.baseLabels, labels: o.labels });
  const evaluate = async (m: typeof base, d: Dataset) =>
    d.n === 0 ? null : evaluateSlots(await predictSlots(m, d), {
      sku: d.sku,
      count: d.count,
      hand: d.hand,
      labels: o.labels,
      maxCount: MAX_COUNT,
    });
  try {
    return {
      candidate: {
        field: await evaluate(candidate, o.sets.field),
        synthetic: await evaluate(candidate, o.sets.synthetic),
      },
      base: {
        field: await evaluate(base, o.sets.field),
        synthetic: await evaluate(base, o.sets.synthetic),
      },
    };
  } finally {
    base.dispose();
  }
}

async function writeArtifact(
  out: string,
  a: {
    onnx: Uint8Array<ArrayBuffer>;
    manifest: ModelManifest;
    report: Record<string, Record<string, SlotEvaluation | null>>;
    lineage: Record<string, unknown>;
    labels: readonly string[];
  },
): Promise<void> {
  const tmp = `${out}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  await Deno.mkdir(tmp, { recursive: true });
  await Deno.writeFile(`${tmp}/${a.manifest.file}`, a.onnx);
  await Deno.writeTextFile(`${tmp}/model.json`, JSON.stringify(a.manifest, null, 2) + "\n");
  await Deno.writeTextFile(`${tmp}/lineage.json`, JSON.stringify(a.lineage, null, 2) + "\n");
  await Deno.writeTextFile(`${tmp}/report.json`, JSON.stringify(a.report, null, 2) + "\n");
  const pct = (r: SlotEvaluation | null | undefined, k: "skuAccuracy" | "countAccuracy") =>
    r ? `${(r[k] * 100).toFixed(2)}%` : "n/a";
  const lines = [
    `# ${a.manifest.name} ${a.manifest.version} (fine-tuned from the field)`,
    "",
    `Base ${JSON.stringify(a.lineage.base)}; new labels ${
      JSON.stringify(a.lineage.newLabels)
    }; code ${a.lineage.code ?? "unknown"}.`,
    "",
    "| model | set | SKU accuracy | count accuracy |",
    "| ----- | --- | ------------ | -------------- |",
  ];
  for (const who of ["base", "candidate"]) {
    for (const set of ["field", "synthetic"]) {
      const r = a.report[who]![set];
      lines.push(`| ${who} | ${set} | ${pct(r, "skuAccuracy")} | ${pct(r, "countAccuracy")} |`);
      if (r) {
        await Deno.writeTextFile(
          `${tmp}/confusion_sku_${who}_${set}.svg`,
          confusionSvg(r.skuConfusion, a.labels, { title: `SKU, ${who}, held-out ${set} crops` }),
        );
        lines.push(`| | | ![](confusion_sku_${who}_${set}.svg) | |`);
      }
    }
  }
  await Deno.writeTextFile(`${tmp}/report.md`, lines.join("\n") + "\n");
  await Deno.remove(out, { recursive: true }).catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  });
  await Deno.rename(tmp, out);
}

/** The program's environment: where the API is and the token it takes. */
const Env = z.object({
  VEND_API_URL: z.url({ protocol: /^https?$/ }),
  VEND_API_TOKEN: z.string().min(20),
});

/** The labelled field samples from the API (`GET /datasets/field/export`) and a clip reader. */
export async function fieldFromApi(
  api: { readonly url: string; readonly token: string },
  query: { readonly since?: string },
): Promise<{ samples: FieldSampleInput[]; readClip: TrainFromFieldOptions["readClip"] }> {
  const headers = { authorization: `Bearer ${api.token}` };
  const q = new URLSearchParams({ label: "any", limit: "100000" });
  if (query.since) q.set("since", query.since);
  const res = await fetch(`${api.url}/datasets/field/export?${q}`, { headers });
  if (!res.ok) throw new Error(`GET /datasets/field/export: ${res.status} ${await res.text()}`);
  const lines = (await res.text()).trim().split("\n").map((l) => JSON.parse(l));
  const samples = lines.filter((l) => l.sample) as FieldSampleInput[];
  const readClip = async (sessionId: string, object: string) => {
    const r = await fetch(
      `${api.url}/datasets/field/${sessionId}/clip?object=${encodeURIComponent(object)}`,
      { headers },
    );
    if (!r.ok) throw new Error(`GET clip ${object}: ${r.status} ${await r.text()}`);
    return await r.bytes();
  };
  return { samples, readClip };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      "from-field": { type: "boolean", default: false },
      base: { type: "string", default: "models/build/default" },
      since: { type: "string" },
      out: { type: "string", default: "models/build/field" },
      epochs: { type: "string" },
      version: { type: "string" },
      quiet: { type: "boolean", default: false },
    },
    strict: true,
  });
  try {
    const env = Env.safeParse(Deno.env.toObject());
    if (!env.success) {
      const issue = env.error.issues[0]!;
      throw new TypeError(`${issue.path.join(".")}: ${issue.message}`);
    }
    const epochs = values.epochs === undefined ? undefined : Number(values.epochs);
    if (epochs !== undefined && !(Number.isInteger(epochs) && epochs >= 1 && epochs <= 100)) {
      throw new TypeError(`Invalid --epochs "${values.epochs}": expected 1-100`);
    }
    const field = await fieldFromApi(
      { url: env.data.VEND_API_URL.replace(/\/$/, ""), token: env.data.VEND_API_TOKEN },
      values.since ? { since: values.since } : {},
    );
    const tty = Deno.stderr.isTerminal();
    const encoder = new TextEncoder();
    const figures = await trainFromField({
      ...field,
      base: values.base,
      out: values.out,
      ...(epochs ? { epochs } : {}),
      ...(values.version ? { version: values.version } : {}),
      progress: (line, final) => {
        if (values.quiet) return;
        if (tty) Deno.stderr.writeSync(encoder.encode(`\r\x1b[2K${line}${final ? "\n" : ""}`));
        else if (final) console.error(line);
      },
    });
    console.error(`wrote ${values.out}`);
    console.log(JSON.stringify(figures));
  } catch (e) {
    console.error(`vend train --from-field: ${(e as Error).message}`);
    Deno.exit(e instanceof TypeError ? 2 : 1);
  }
}
