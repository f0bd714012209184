/**
 * The TypeScript reference of every pixel kernel: plain scalar code that defines the exact
 * arithmetic the WASM SIMD kernels must reproduce.
 *
 * @module
 */
import {
  checkI420,
  checkRgba,
  checkSize,
  type I420Image,
  i420Size,
  type RgbaImage,
  type Size,
} from "./image.ts";
import {
  checkInto,
  checkPlanes,
  letterboxGeometry,
  type LetterboxOptions,
  type LetterboxResult,
  type MotionScore,
  motionThreshold,
  nchwCoefficients,
  type NchwOptions,
  type PixelKernels,
  samplingTable,
} from "./pixel_kernels.ts";

const clamp = (v: number, lo: number, hi: number) => (v < lo ? lo : v > hi ? hi : v);

function rgbaToI420(image: RgbaImage, options: { readonly into?: Uint8Array } = {}): I420Image {
  checkRgba(image);
  const { data: src, width, height } = image;
  const size = i420Size(width, height);
  const out = checkInto(options.into, size, "rgbaToI420") ?? new Uint8Array(size);
  const cw = (width + 1) >> 1;
  const ch = (height + 1) >> 1;
  const uOff = width * height;
  const vOff = uOff + cw * ch;
  for (let i = 0, p = 0; i < width * height; i++, p += 4) {
    out[i] = ((66 * src[p]! + 129 * src[p + 1]! + 25 * src[p + 2]! + 128) >> 8) + 16;
  }
  for (let cy = 0; cy < ch; cy++) {
    for (let cx = 0; cx < cw; cx++) {
      let r = 0, g = 0, b = 0, n = 0;
      for (let y = cy * 2; y < Math.min(cy * 2 + 2, height); y++) {
        for (let x = cx * 2; x < Math.min(cx * 2 + 2, width); x++) {
          const p = (y * width + x) * 4;
          r += src[p]!;
          g += src[p + 1]!;
          b += src[p + 2]!;
          n++;
        }
      }
      const half = n >> 1;
      r = Math.floor((r + half) / n);
      g = Math.floor((g + half) / n);
      b = Math.floor((b + half) / n);
      out[uOff + cy * cw + cx] = ((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128;
      out[vOff + cy * cw + cx] = ((112 * r - 94 * g - 18 * b + 128) >> 8) + 128;
    }
  }
  return { data: out, width, height };
}

function i420ToRgba(image: I420Image, options: { readonly into?: Uint8Array } = {}): RgbaImage {
  checkI420(image);
  const { data: src, width, height } = image;
  const out = checkInto(options.into, width * height * 4, "i420ToRgba") ??
    new Uint8Array(width * height * 4);
  const cw = (width + 1) >> 1;
  const ch = (height + 1) >> 1;
  const uOff = width * height;
  const vOff = uOff + cw * ch;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const c = clamp(src[y * width + x]!, 16, 235) - 16;
      const ci = (y >> 1) * cw + (x >> 1);
      const d = clamp(src[uOff + ci]!, 16, 240) - 128;
      const e = clamp(src[vOff + ci]!, 16, 240) - 128;
      const p = (y * width + x) * 4;
      out[p] = clamp((74 * c + 102 * e + 32) >> 6, 0, 255);
      out[p + 1] = clamp((74 * c - 25 * d - 52 * e + 32) >> 6, 0, 255);
      out[p + 2] = clamp((74 * c + 129 * d + 32) >> 6, 0, 255);
      out[p + 3] = 255;
    }
  }
  return { data: out, width, height };
}

function letterbox(image: RgbaImage, size: Size, options: LetterboxOptions = {}): LetterboxResult {
  checkRgba(image);
  checkSize(size, "letterbox target");
  const { data: src, width: sw, height: sh } = image;
  const { width: dw, height: dh } = size;
  const out = checkInto(options.into, dw * dh * 4, "letterbox") ?? new Uint8Array(dw * dh * 4);
  const [pr, pg, pb] = options.pad ?? [114, 114, 114];
  for (let p = 0; p < out.length; p += 4) {
    out[p] = pr;
    out[p + 1] = pg;
    out[p + 2] = pb;
    out[p + 3] = 255;
  }
  const geometry = letterboxGeometry(image, size);
  const xs = samplingTable(sw, geometry.width, 4);
  const ys = samplingTable(sh, geometry.height, 1);
  const tmp = new Uint8Array(sw * 4);
  for (let y = 0; y < geometry.height; y++) {
    const r0 = ys[y * 3]! * sw * 4;
    const r1 = ys[y * 3 + 1]! * sw * 4;
    const fy = ys[y * 3 + 2]!;
    for (let b = 0; b < sw * 4; b++) {
      tmp[b] = (src[r0 + b]! * (256 - fy) + src[r1 + b]! * fy + 128) >> 8;
    }
    const row = ((geometry.offsetY + y) * dw + geometry.offsetX) * 4;
    for (let x = 0; x < geometry.width; x++) {
      const a = xs[x * 3]!;
      const b = xs[x * 3 + 1]!;
      const fx = xs[x * 3 + 2]!;
      for (let c = 0; c < 4; c++) {
        out[row + x * 4 + c] = (tmp[a + c]! * (256 - fx) + tmp[b + c]! * fx + 128) >> 8;
      }
    }
  }
  return { data: out, width: dw, height: dh, geometry };
}

function rgbaToNchw(image: RgbaImage, options: NchwOptions): Float32Array {
  checkRgba(image);
  const { scale, bias } = nchwCoefficients(options);
  const n = image.width * image.height;
  const out = checkInto(options.into, n * 3, "rgbaToNchw") ?? new Float32Array(n * 3);
  const src = image.data;
  const f = Math.fround;
  for (let c = 0; c < 3; c++) {
    const s = scale[c]!;
    const b = bias[c]!;
    const plane = c * n;
    for (let i = 0; i < n; i++) out[plane + i] = f(f(src[i * 4 + c]! * s) + b);
  }
  return out;
}

function motionScore(
  a: Uint8Array,
  b: Uint8Array,
  options: { readonly threshold?: number } = {},
): MotionScore {
  checkPlanes(a, b);
  const threshold = motionThreshold(options.threshold);
  let sum = 0;
  let count = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    sum += d;
    if (d > threshold) count++;
  }
  return { meanAbsDiff: sum / (a.length * 255), changedRatio: count / a.length };
}

/** The TypeScript reference kernels. */
export const referenceKernels: PixelKernels = {
  name: "typescript",
  rgbaToI420,
  i420ToRgba,
  letterbox,
  rgbaToNchw,
  motionScore,
};
