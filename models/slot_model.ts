/**
 * The slot model: a small convolutional network shaped for WASM (3x3 convolutions with
 * stride 1 and 2x2 max-pooling, no depthwise layers, a 32x32 input) that looks at one slot crop
 * and says which SKU is there (or `empty`), how many units (0..4) and whether a hand is over the
 * slot and what it holds. Three softmax outputs, `sku`, `count` and `hand` (0 no hand, `1 + i` a
 * hand holding SKU label `i`). Also registers the Conv2D filter gradient the tfjs WASM backend lacks, built
 * from pad, slice and matMul.
 *
 * @example
 * ```ts
 * import { startTfjsWasm } from "./tfjs_backend.ts";
 * import { buildSlotModel } from "./slot_model.ts";
 *
 * await startTfjsWasm();
 * const model = buildSlotModel({ size: 32, skuClasses: 13, seed: 1 });
 * model.summary();
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { MAX_COUNT } from "./dataset.ts";

/** Options of {@link buildSlotModel}. */
export interface SlotModelOptions {
  /** Side of the square input. */
  readonly size: number;
  /** SKU classes (the catalogue's SKUs plus `empty`). */
  readonly skuClasses: number;
  /** Seed of the weight initialisers. */
  readonly seed: number;
  /** Filters of the three convolutions. Default [16, 32, 64]. */
  readonly filters?: readonly [number, number, number];
  /** Units of the shared dense layer. Default 64. */
  readonly hidden?: number;
}

/** Builds the (untrained) slot model; input NHWC `[n, size, size, 3]`. */
export function buildSlotModel(options: SlotModelOptions): tfl.LayersModel {
  registerConvGradient();
  const [f1, f2, f3] = options.filters ?? [16, 32, 64];
  if (options.size % 8 !== 0) {
    throw new RangeError(`Cannot build a slot model for ${options.size} pixels: a multiple of 8`);
  }
  let seed = options.seed;
  const init = () => tfl.initializers.glorotUniform({ seed: seed++ });
  const input = tfl.input({ shape: [options.size, options.size, 3], name: "input" });
  let h = input as tfl.SymbolicTensor;
  for (const filters of [f1, f2, f3]) {
    h = tfl.layers.conv2d({
      filters,
      kernelSize: 3,
      padding: "same",
      activation: "relu",
      kernelInitializer: init(),
    }).apply(h) as tfl.SymbolicTensor;
    h = tfl.layers.maxPooling2d({ poolSize: 2, strides: 2 }).apply(h) as tfl.SymbolicTensor;
  }
  h = tfl.layers.flatten().apply(h) as tfl.SymbolicTensor;
  h = tfl.layers.dense({
    units: options.hidden ?? 64,
    activation: "relu",
    kernelInitializer: init(),
  }).apply(h) as tfl.SymbolicTensor;
  const sku = tfl.layers.dense({
    units: options.skuClasses,
    activation: "softmax",
    kernelInitializer: init(),
    name: "sku",
  }).apply(h) as tfl.SymbolicTensor;
  const count = tfl.layers.dense({
    units: MAX_COUNT + 1,
    activation: "softmax",
    kernelInitializer: init(),
    name: "count",
  }).apply(h) as tfl.SymbolicTensor;
  const hand = tfl.layers.dense({
    units: options.skuClasses + 1,
    activation: "softmax",
    kernelInitializer: init(),
    name: "hand",
  }).apply(h) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: [sku, count, hand], name: "slot_model" });
}

let registered = false;

/**
 * Registers the gradient of Conv2D (NHWC, stride 1, no dilation) with the filter gradient built
 * from pad, slice and matMul: the WASM backend has no Conv2DBackpropFilter kernel.
 */
export function registerConvGradient(): void {
  if (registered) return;
  registered = true;
  tf.registerGradient({
    kernelName: "Conv2D",
    inputsToSave: ["x", "filter"],
    gradFunc: (dy, saved, attrs) => {
      const [x, filter] = saved as [tf.Tensor4D, tf.Tensor4D];
      const { strides, pad, dilations } = attrs as unknown as {
        strides: number | [number, number];
        pad: "same" | "valid";
        dilations: number | [number, number];
      };
      const one = (
        v: number | [number, number],
      ) => (Array.isArray(v) ? v[0] === 1 && v[1] === 1 : v === 1);
      if (!one(strides) || !one(dilations) || (pad !== "same" && pad !== "valid")) {
        throw new RangeError(
          `Conv2D gradient: only stride 1, dilation 1 and same/valid padding (got ${
            JSON.stringify({ strides, dilations, pad })
          })`,
        );
      }
      const dy4 = dy as tf.Tensor4D;
      return {
        x: () => tf.conv2dTranspose(dy4, filter, x.shape, 1, pad),
        filter: () => conv2dFilterGradient(x, dy4, filter.shape, pad),
      };
    },
  });
}

/** dL/dfilter of a stride-1 NHWC convolution, from im2col slices and one matMul per tap. */
export function conv2dFilterGradient(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: [number, number, number, number],
  pad: "same" | "valid",
): tf.Tensor4D {
  return tf.tidy(() => {
    const [kh, kw, cin, cout] = filterShape;
    const [n, oh, ow] = dy.shape;
    const top = pad === "same" ? Math.floor((kh - 1) / 2) : 0;
    const left = pad === "same" ? Math.floor((kw - 1) / 2) : 0;
    const xp = pad === "same"
      ? tf.pad(x, [[0, 0], [top, kh - 1 - top], [left, kw - 1 - left], [0, 0]])
      : x;
    const dy2 = tf.reshape(dy, [n * oh * ow, cout]);
    const taps: tf.Tensor2D[] = [];
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) {
        const patch = tf.reshape(tf.slice(xp, [0, i, j, 0], [n, oh, ow, cin]), [n * oh * ow, cin]);
        taps.push(tf.matMul(patch, dy2, true, false));
      }
    }
    return tf.reshape(tf.stack(taps), [kh, kw, cin, cout]);
  });
}
