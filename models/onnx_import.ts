/**
 * A slot model back from its ONNX file: the graph {@link exportOnnx} wrote (three convolutions,
 * a shared dense layer, the `sku`, `count` and `hand` heads) read into a tfjs model of the same
 * shape with the same weights, so a model in the field can be fine-tuned rather than trained
 * again from nothing. The SKU labels may grow: each label the base model knew keeps its weights
 * (found by name, wherever it stands in the new order), a new label starts from small weights
 * and a bias below every known one's (the model says it only once it has learnt it). A graph of
 * another shape is refused with {@link OnnxImportError}.
 *
 * @example
 * ```ts
 * import { importOnnx } from "./onnx_import.ts";
 *
 * declare const onnx: Uint8Array;
 * const model = await importOnnx(onnx, {
 *   baseLabels: ["empty", "COLA-330"],
 *   labels: ["empty", "COLA-330", "NEW-1"],
 * });
 * console.log(model.outputs.map((o) => o.shape)); // [[null, 3], [null, 5], [null, 4]]
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";
import onnxProto from "onnx-proto";
import { MAX_COUNT } from "./dataset.ts";
import { buildSlotModel } from "./slot_model.ts";
import { startTfjsWasm } from "./tfjs_backend.ts";

const { onnx } = onnxProto;

/** The ONNX file is not a slot model this importer can read. */
export class OnnxImportError extends Error {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "OnnxImportError";
  }
}

/** Options of {@link importOnnx}. */
export interface ImportOptions {
  /** The labels the ONNX file was trained for (its manifest's), `empty` first. */
  readonly baseLabels: readonly string[];
  /** The labels of the model to build; default the base's. */
  readonly labels?: readonly string[];
  /** Seed of the new labels' weights. Default 1. */
  readonly seed?: number;
}

interface Init {
  readonly dims: number[];
  readonly values: Float32Array;
}

function initializers(bytes: Uint8Array): Map<string, Init> {
  let m;
  try {
    m = onnx.ModelProto.decode(bytes);
  } catch (cause) {
    throw new OnnxImportError("Cannot read the ONNX file: it is not an ONNX model", { cause });
  }
  const out = new Map<string, Init>();
  for (const t of m.graph?.initializer ?? []) {
    const dims = (t.dims ?? []).map(Number);
    const raw = t.rawData;
    const values = raw && raw.length
      // A copy: protobufjs may hand out a view into a shared pool (a Node Buffer).
      ? new Float32Array(Uint8Array.from(raw).buffer, 0, raw.length / 4)
      : Float32Array.from(t.floatData ?? []);
    if (values.length !== dims.reduce((a, b) => a * b, 1)) {
      throw new OnnxImportError(`Cannot read initializer ${t.name}: ${values.length} values`);
    }
    out.set(t.name ?? "", { dims, values });
  }
  return out;
}

/** OIHW (ONNX) to HWIO (tfjs). */
function hwio(kernel: Float32Array, [o, i, h, w]: number[]): Float32Array {
  const out = new Float32Array(kernel.length);
  for (let k = 0; k < o!; k++) {
    for (let c = 0; c < i!; c++) {
      for (let y = 0; y < h!; y++) {
        for (let x = 0; x < w!; x++) {
          out[((y * w! + x) * i! + c) * o! + k] = kernel[((k * i! + c) * h! + y) * w! + x]!;
        }
      }
    }
  }
  return out;
}

/** The slot model in `bytes` as a tfjs model with `options.labels` (see the module docs). */
export async function importOnnx(
  bytes: Uint8Array,
  options: ImportOptions,
): Promise<tfl.LayersModel> {
  await startTfjsWasm();
  const base = options.baseLabels;
  const labels = options.labels ?? base;
  if (labels[0] !== "empty" || base[0] !== "empty") {
    throw new TypeError("Cannot import a slot model: its labels must start with empty");
  }
  const init = initializers(bytes);
  // Initializers in the exporter's order: each layer's weight, then its bias.
  const pairs: Array<{ name: string; w: Init; b: Init }> = [];
  for (const [name, w] of init) {
    if (!name.endsWith(".weight")) continue;
    const layer = name.slice(0, -".weight".length);
    const b = init.get(`${layer}.bias`);
    if (!b) throw new OnnxImportError(`Cannot import ${layer}: it has no bias`);
    pairs.push({ name: layer, w, b });
  }
  const convs = pairs.filter((p) => p.w.dims.length === 4);
  const dense = pairs.filter((p) => p.w.dims.length === 2);
  const head = (n: string) => dense.find((p) => p.name === n);
  const [sku, count, hand] = [head("sku"), head("count"), head("hand")];
  const trunk = dense.filter((p) => !["sku", "count", "hand"].includes(p.name));
  if (convs.length !== 3 || trunk.length !== 1 || !sku || !count || !hand) {
    throw new OnnxImportError(
      `Cannot import: ${convs.length} convolutions, ${trunk.length} shared dense layers and ` +
        `heads ${dense.map((p) => p.name).join(", ")}; expected 3, 1 and sku, count, hand`,
    );
  }
  if (sku.w.dims[1] !== base.length || hand.w.dims[1] !== base.length + 1) {
    throw new OnnxImportError(
      `Cannot import: the sku head has ${sku.w.dims[1]} classes, the base labels ${base.length}`,
    );
  }
  if (count.w.dims[1] !== MAX_COUNT + 1) {
    throw new OnnxImportError(`Cannot import: the count head has ${count.w.dims[1]} classes`);
  }
  const missing = base.filter((l) => !labels.includes(l));
  if (missing.length) {
    throw new TypeError(`Cannot import a slot model without its labels ${missing.join(", ")}`);
  }
  // The input side from the first convolution and the flattened features: size = sqrt(f / c3) * 8.
  const filters = convs.map((c) => c.w.dims[0]!) as [number, number, number];
  const hidden = trunk[0]!.w.dims[1]!;
  const size = Math.round(Math.sqrt(trunk[0]!.w.dims[0]! / filters[2])) * 8;
  const model = buildSlotModel({
    size,
    skuClasses: labels.length,
    seed: options.seed ?? 1,
    filters,
    hidden,
  });
  const weights: tf.Tensor[] = [];
  let c = 0;
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    if (cls === "Conv2D") {
      const { w, b } = convs[c++]!;
      const [o, i, h, wd] = w.dims;
      weights.push(tf.tensor4d(hwio(w.values, w.dims), [h!, wd!, i!, o!]), tf.tensor1d(b.values));
    } else if (cls === "Dense") {
      const from = layer.name === "sku"
        ? sku
        : layer.name === "count"
        ? count
        : layer.name === "hand"
        ? hand
        : trunk[0]!;
      const [rows, cols] = from.w.dims as [number, number];
      if (layer.name === "sku" || layer.name === "hand") {
        // Columns by label: the hand head's are "no hand", then one per label.
        const offset = layer.name === "hand" ? 1 : 0;
        // The fresh layer's own initial weights (scaled down) for labels the base did not know.
        const kernel = layer.getWeights()[0]!.dataSync().slice() as Float32Array;
        const outCols = labels.length + offset;
        for (let r = 0; r < rows; r++) {
          for (let k = 0; k < outCols; k++) kernel[r * outCols + k]! *= 0.1;
        }
        const bias = new Float32Array(outCols);
        const lowest = Math.min(...from.b.values);
        bias.fill(lowest - 2);
        const source = (k: number) =>
          k < offset ? k : (() => {
            const i = base.indexOf(labels[k - offset]!);
            return i < 0 ? -1 : i + offset;
          })();
        for (let k = 0; k < outCols; k++) {
          const s = source(k);
          if (s < 0) continue;
          for (let r = 0; r < rows; r++) kernel[r * outCols + k] = from.w.values[r * cols + s]!;
          bias[k] = from.b.values[s]!;
        }
        weights.push(tf.tensor2d(kernel, [rows, outCols]), tf.tensor1d(bias));
      } else {
        weights.push(tf.tensor2d(from.w.values, [rows, cols]), tf.tensor1d(from.b.values));
      }
    } else continue;
    // setWeights copies the values into the layer's variables.
    layer.setWeights(weights);
    tf.dispose(weights.splice(0));
  }
  return model;
}
