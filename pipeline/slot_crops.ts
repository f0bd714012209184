/**
 * Preprocessing for recognition: crops picture regions (the planogram's slots) out of an RGBA
 * frame, letterboxes each to the model's input size and writes them, normalised, into one NCHW
 * batch. The same function prepares training data and live frames, so the model sees the same
 * pixels in both.
 *
 * @example
 * ```ts
 * import { referenceKernels } from "../wasm/mod.ts";
 * import { slotCrops } from "./slot_crops.ts";
 *
 * const image = { data: new Uint8Array(64 * 48 * 4), width: 64, height: 48 };
 * const batch = slotCrops(image, [{ x0: 0, y0: 0, x1: 0.5, y1: 0.5 }], {
 *   kernels: referenceKernels, size: 32, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25],
 * });
 * console.log(batch.length); // 3 * 32 * 32
 * ```
 *
 * @module
 */
import type { PixelKernels, RgbaImage, Triple } from "../wasm/mod.ts";
import type { Region } from "./planogram.ts";

/** Options of {@link slotCrops}. */
export interface SlotCropOptions {
  /** Pixel kernels (WASM or the TypeScript reference: same results). */
  readonly kernels: PixelKernels;
  /** Side of the square model input, pixels. */
  readonly size: number;
  /** Per-channel mean, 0..1. */
  readonly mean: Triple;
  /** Per-channel standard deviation, 0..1. */
  readonly std: Triple;
  /** Batch buffer to fill (`regions.length * 3 * size * size` floats). */
  readonly into?: Float32Array;
}

/** Crops `regions` of `image` into one normalised NCHW batch. */
export function slotCrops(
  image: RgbaImage,
  regions: readonly Region[],
  options: SlotCropOptions,
): Float32Array {
  const { size, kernels } = options;
  if (!Number.isInteger(size) || size < 4 || size > 1024) {
    throw new RangeError(`Cannot crop to ${size} pixels: expected an integer 4-1024`);
  }
  const per = 3 * size * size;
  const out = options.into ?? new Float32Array(regions.length * per);
  if (out.length !== regions.length * per) {
    throw new RangeError(`Crop batch holds ${out.length} floats, expected ${regions.length * per}`);
  }
  const square = { width: size, height: size };
  const tile = new Uint8Array(size * size * 4);
  regions.forEach((r, i) => {
    const x0 = Math.max(0, Math.floor(r.x0 * image.width));
    const y0 = Math.max(0, Math.floor(r.y0 * image.height));
    const x1 = Math.min(image.width, Math.ceil(r.x1 * image.width));
    const y1 = Math.min(image.height, Math.ceil(r.y1 * image.height));
    if (!(x1 > x0 && y1 > y0)) {
      throw new RangeError(
        `Region ${i} (${r.x0}, ${r.y0})-(${r.x1}, ${r.y1}) is empty in a ` +
          `${image.width}x${image.height} picture`,
      );
    }
    const w = x1 - x0;
    const h = y1 - y0;
    const crop = new Uint8Array(w * h * 4);
    for (let y = 0; y < h; y++) {
      const from = ((y0 + y) * image.width + x0) * 4;
      crop.set(image.data.subarray(from, from + w * 4), y * w * 4);
    }
    const boxed = kernels.letterbox({ data: crop, width: w, height: h }, square, { into: tile });
    kernels.rgbaToNchw(boxed, {
      mean: options.mean,
      std: options.std,
      into: out.subarray(i * per, (i + 1) * per),
    });
  });
  return out;
}
