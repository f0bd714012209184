/**
 * The pixel kernels' interface, shared by the WASM SIMD implementation and the TypeScript
 * reference, and the letterbox geometry both use.
 *
 * @module
 */
import type { I420Image, RgbaImage, Size } from "./image.ts";

/** Three per-channel values (R, G, B). */
export type Triple = readonly [number, number, number];

/** Where the picture landed in a letterboxed target. */
export interface LetterboxGeometry {
  /** Scale from source to target pixels. */
  readonly scale: number;
  /** Left and top of the picture in the target. */
  readonly offsetX: number;
  /** Top of the picture in the target. */
  readonly offsetY: number;
  /** Size of the picture in the target. */
  readonly width: number;
  /** Height of the picture in the target. */
  readonly height: number;
}

/** A letterboxed RGBA image and where the picture is inside it. */
export interface LetterboxResult extends RgbaImage {
  /** Placement of the source picture. */
  readonly geometry: LetterboxGeometry;
}

/** Options of {@link PixelKernels.letterbox}. */
export interface LetterboxOptions {
  /** Padding colour, RGB. Default mid grey (114, 114, 114). */
  readonly pad?: Triple;
  /** Output buffer to reuse (`width * height * 4` bytes of the target size). */
  readonly into?: Uint8Array;
}

/** Options of {@link PixelKernels.rgbaToNchw}. */
export interface NchwOptions {
  /** Per-channel mean, on the 0..1 scale. */
  readonly mean: Triple;
  /** Per-channel standard deviation, on the 0..1 scale. */
  readonly std: Triple;
  /** Output buffer to reuse (`3 * width * height` floats). */
  readonly into?: Float32Array;
}

/** Motion between two frames. */
export interface MotionScore {
  /** Mean absolute difference, 0..1 (1 = every byte changed from 0 to 255). */
  readonly meanAbsDiff: number;
  /** Share of bytes whose difference exceeds the threshold, 0..1. */
  readonly changedRatio: number;
}

/** Pixel kernels; every method checks its arguments and throws TypeError/RangeError on bad input. */
export interface PixelKernels {
  /** `"wasm"` or `"typescript"`. */
  readonly name: string;
  /** RGBA to I420 (BT.601 limited range; chroma from the rounded mean of each 2x2 block). */
  rgbaToI420(image: RgbaImage, options?: { readonly into?: Uint8Array }): I420Image;
  /** I420 to RGBA (limited range, alpha 255). */
  i420ToRgba(image: I420Image, options?: { readonly into?: Uint8Array }): RgbaImage;
  /** Bilinear resize that keeps the aspect ratio, centred on a padded target of `size`. */
  letterbox(image: RgbaImage, size: Size, options?: LetterboxOptions): LetterboxResult;
  /** RGBA (HWC, u8) to planar float32 RGB (NCHW, N = 1) with `(x / 255 - mean) / std`. */
  rgbaToNchw(image: RgbaImage, options: NchwOptions): Float32Array;
  /** Motion between two equally long 8-bit planes (e.g. the Y planes of two frames). */
  motionScore(a: Uint8Array, b: Uint8Array, options?: { readonly threshold?: number }): MotionScore;
}

/** Where a `src` picture goes in a letterboxed `dst` of another size. */
export function letterboxGeometry(src: Size, dst: Size): LetterboxGeometry {
  const scale = Math.min(dst.width / src.width, dst.height / src.height);
  const width = Math.min(dst.width, Math.max(1, Math.round(src.width * scale)));
  const height = Math.min(dst.height, Math.max(1, Math.round(src.height * scale)));
  return {
    scale,
    width,
    height,
    offsetX: (dst.width - width) >> 1,
    offsetY: (dst.height - height) >> 1,
  };
}

/**
 * Bilinear sampling table mapping `out` target positions onto `src` source positions with pixel
 * centres aligned: per position `[i0 * stride, i1 * stride, weight]`, the weight of `i1` in 1/256.
 */
export function samplingTable(src: number, out: number, stride: number): Int32Array {
  const table = new Int32Array(out * 3);
  for (let i = 0; i < out; i++) {
    let pos = Math.floor(((2 * i + 1) * src * 256) / (2 * out)) - 128;
    if (pos < 0) pos = 0;
    let i0 = pos >> 8;
    let f = pos & 255;
    if (i0 >= src - 1) {
      i0 = src - 1;
      f = 0;
    }
    table[i * 3] = i0 * stride;
    table[i * 3 + 1] = Math.min(i0 + 1, src - 1) * stride;
    table[i * 3 + 2] = f;
  }
  return table;
}

/** Checks mean and std and returns the f32 scale and bias per channel. */
export function nchwCoefficients(
  options: NchwOptions,
): { scale: Float32Array; bias: Float32Array } {
  const scale = new Float32Array(3);
  const bias = new Float32Array(3);
  for (let c = 0; c < 3; c++) {
    const mean = options.mean[c];
    const std = options.std[c];
    if (typeof mean !== "number" || !Number.isFinite(mean)) {
      throw new RangeError(`Invalid mean[${c}]: ${mean}`);
    }
    if (typeof std !== "number" || !Number.isFinite(std) || std <= 0) {
      throw new RangeError(`Invalid std[${c}]: ${std}`);
    }
    scale[c] = 1 / (255 * std);
    bias[c] = -mean / std;
  }
  return { scale, bias };
}

/** Checks a motion threshold (0-255, default 25). */
export function motionThreshold(threshold: number | undefined): number {
  const t = threshold ?? 25;
  if (!Number.isInteger(t) || t < 0 || t > 255) {
    throw new RangeError(`Invalid motion threshold ${t}: expected 0-255`);
  }
  return t;
}

/** Checks two motion planes. */
export function checkPlanes(a: Uint8Array, b: Uint8Array): void {
  if (!(a instanceof Uint8Array) || !(b instanceof Uint8Array)) {
    throw new TypeError("Motion planes must be Uint8Arrays");
  }
  if (a.length !== b.length) {
    throw new RangeError(`Motion planes differ in length: ${a.length} and ${b.length}`);
  }
  if (a.length === 0) throw new RangeError("Motion planes are empty");
}

/** Checks a reusable output buffer's length. */
export function checkInto<T extends Uint8Array | Float32Array>(
  into: T | undefined,
  length: number,
  what: string,
): T | undefined {
  if (into !== undefined && into.length !== length) {
    throw new RangeError(
      `Invalid output buffer for ${what}: needs ${length} elements, got ${into.length}`,
    );
  }
  return into;
}
