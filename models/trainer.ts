/**
 * Trains the slot model on a rendered {@link Dataset} with tfjs on its WASM backend, reporting
 * progress (epoch, batch, loss, time left) as it goes, and predicts with the trained model.
 * Deterministic for a seed: the initial weights and the sample order come from it.
 *
 * @example
 * ```ts
 * import { referenceKernels } from "../wasm/mod.ts";
 * import { renderDataset } from "./dataset.ts";
 * import { trainSlotModel } from "./trainer.ts";
 *
 * const data = renderDataset([1, 2, 3], { kernels: referenceKernels });
 * const { model } = await trainSlotModel(data, { epochs: 1, seed: 1 });
 * model.dispose();
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";
import { prng } from "../pipeline/mod.ts";
import { type Dataset, MAX_COUNT } from "./dataset.ts";
import { buildSlotModel } from "./slot_model.ts";
import { startTfjsWasm } from "./tfjs_backend.ts";

/** Where training is. */
export interface TrainProgress {
  readonly epoch: number;
  readonly epochs: number;
  readonly batch: number;
  readonly batches: number;
  /** Mean loss of the epoch so far (all outputs). */
  readonly loss: number;
  /** Estimated time left, ms. */
  readonly etaMs: number;
}

/** Options of {@link trainSlotModel}. */
export interface TrainOptions {
  /** Passes over the data. Default 6. */
  readonly epochs?: number;
  /** Default 64. */
  readonly batchSize?: number;
  /** Adam's learning rate. Default 0.002. */
  readonly learningRate?: number;
  /** Seed of the weights and the sample order. */
  readonly seed: number;
  /** Filters of the three convolutions. Default [16, 32, 64]. */
  readonly filters?: readonly [number, number, number];
  /** Units of the shared dense layer. Default 64. */
  readonly hidden?: number;
  /** Told after every batch. */
  readonly onProgress?: (p: TrainProgress) => void;
  /** Stops training after the current batch. */
  readonly signal?: AbortSignal;
  /**
   * Fine-tunes this model (its labels `data`'s) instead of training a new one; `filters` and
   * `hidden` are then the base's.
   */
  readonly base?: tfl.LayersModel;
}

/** A trained model and its loss per epoch. */
export interface Trained {
  readonly model: tfl.LayersModel;
  readonly losses: readonly number[];
  /** Training time, ms. */
  readonly ms: number;
}

/** The dataset's crops as an NHWC tensor (tfjs's layout), rows in `order`. */
export function nhwc(data: Dataset, order?: readonly number[]): tf.Tensor4D {
  const s = data.input.size;
  const per = 3 * s * s;
  const rows = order ?? Array.from({ length: data.n }, (_, i) => i);
  const x = new Float32Array(rows.length * per);
  rows.forEach((r, i) => x.set(data.x.subarray(r * per, (r + 1) * per), i * per));
  return tf.tidy(() => tf.transpose(tf.tensor4d(x, [rows.length, 3, s, s]), [0, 2, 3, 1]));
}

/** Trains a new slot model on `data` (or fine-tunes `options.base`). */
export async function trainSlotModel(data: Dataset, options: TrainOptions): Promise<Trained> {
  if (data.n === 0) throw new RangeError("Cannot train on an empty dataset");
  const outputs = options.base?.outputs.map((o) => o.shape[1]);
  if (
    outputs &&
    (outputs[0] !== data.labels.length || data.input.size !== options.base!.inputs[0]!.shape[1])
  ) {
    throw new RangeError(
      `Cannot fine-tune a model of ${outputs[0]} SKU classes and ${
        options.base!.inputs[0]!.shape[1]
      } pixels ` +
        `on ${data.labels.length} labels of ${data.input.size} pixels`,
    );
  }
  await startTfjsWasm();
  const epochs = options.epochs ?? 6;
  const batchSize = options.batchSize ?? 64;
  const model = options.base ?? buildSlotModel({
    size: data.input.size,
    skuClasses: data.labels.length,
    seed: options.seed,
    ...(options.filters ? { filters: options.filters } : {}),
    ...(options.hidden ? { hidden: options.hidden } : {}),
  });
  model.compile({
    optimizer: tf.train.adam(options.learningRate ?? 0.002),
    loss: "categoricalCrossentropy",
  });
  const rand = prng(options.seed);
  const order = Array.from({ length: data.n }, (_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const x = nhwc(data, order);
  const sku = tf.tidy(() =>
    tf.oneHot(tf.tensor1d(order.map((i) => data.sku[i]!), "int32"), data.labels.length)
  );
  const count = tf.tidy(() =>
    tf.oneHot(tf.tensor1d(order.map((i) => data.count[i]!), "int32"), MAX_COUNT + 1)
  );
  const hand = tf.tidy(() =>
    tf.oneHot(tf.tensor1d(order.map((i) => data.hand[i]!), "int32"), data.labels.length + 1)
  );
  const batches = Math.ceil(data.n / batchSize);
  const started = performance.now();
  let epoch = 0;
  let sum = 0;
  const losses: number[] = [];
  try {
    await model.fit(x, [sku, count, hand], {
      epochs,
      batchSize,
      shuffle: false,
      verbose: 0,
      callbacks: {
        onEpochBegin: (e) => {
          epoch = e;
          sum = 0;
          return Promise.resolve();
        },
        onBatchEnd: (batch, logs) => {
          sum += logs?.loss ?? 0;
          const done = epoch * batches + batch + 1;
          const elapsed = performance.now() - started;
          options.onProgress?.({
            epoch: epoch + 1,
            epochs,
            batch: batch + 1,
            batches,
            loss: sum / (batch + 1),
            etaMs: (elapsed / done) * (epochs * batches - done),
          });
          if (options.signal?.aborted) model.stopTraining = true;
          return Promise.resolve();
        },
        onEpochEnd: (_e, logs) => {
          losses.push(logs?.loss ?? NaN);
          return Promise.resolve();
        },
      },
    });
  } finally {
    tf.dispose([x, sku, count, hand]);
  }
  return { model, losses, ms: performance.now() - started };
}

/**
 * Class probabilities of every crop of `data`: `sku` n x labels, `count` n x 5, `hand`
 * n x (labels + 1).
 */
export async function predictSlots(
  model: tfl.LayersModel,
  data: Dataset,
  options: { batchSize?: number } = {},
): Promise<{ sku: Float32Array; count: Float32Array; hand: Float32Array }> {
  const batch = options.batchSize ?? 256;
  const k = data.labels.length;
  const sku = new Float32Array(data.n * k);
  const count = new Float32Array(data.n * (MAX_COUNT + 1));
  const hand = new Float32Array(data.n * (k + 1));
  for (let at = 0; at < data.n; at += batch) {
    const rows = Array.from({ length: Math.min(batch, data.n - at) }, (_, i) => at + i);
    const x = nhwc(data, rows);
    const [s, c, h] = model.predict(x) as tf.Tensor[];
    sku.set(await s!.data() as Float32Array, at * k);
    count.set(await c!.data() as Float32Array, at * (MAX_COUNT + 1));
    hand.set(await h!.data() as Float32Array, at * (k + 1));
    tf.dispose([x, s!, c!, h!]);
  }
  return { sku, count, hand };
}
