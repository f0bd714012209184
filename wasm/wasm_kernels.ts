/**
 * The WASM SIMD pixel kernels (AssemblyScript, built by `./vend` into wasm/build/kernels.wasm).
 * Inputs are copied into the module's memory, which grows on demand and is reused.
 *
 * @example
 * ```ts
 * import { loadWasmKernels } from "./wasm_kernels.ts";
 *
 * const k = await loadWasmKernels();
 * const rgba = { data: new Uint8Array(64 * 48 * 4), width: 64, height: 48 };
 * const yuv = k.rgbaToI420(rgba);
 * ```
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

interface Exports {
  memory: WebAssembly.Memory;
  rgbaToI420(src: number, width: number, height: number, dst: number): void;
  i420ToRgba(src: number, width: number, height: number, dst: number): void;
  resizeLetterbox(
    src: number,
    srcWidth: number,
    dst: number,
    dstWidth: number,
    dstHeight: number,
    offsetX: number,
    offsetY: number,
    outWidth: number,
    outHeight: number,
    xTable: number,
    yTable: number,
    tmp: number,
    pad: number,
  ): void;
  rgbaToNchw(
    src: number,
    pixels: number,
    dst: number,
    sr: number,
    sg: number,
    sb: number,
    br: number,
    bg: number,
    bb: number,
  ): void;
  motionScore(a: number, b: number, n: number, threshold: number, out: number): void;
}

/** The default location of the compiled kernels. */
export const KERNELS_URL: URL = new URL("./build/kernels.wasm", import.meta.url);

/** The kernels' WebAssembly module could not be loaded. */
export class KernelLoadError extends Error {
  /** Creates the error; `message` names the file and the reason. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "KernelLoadError";
  }
}

const align = (n: number) => (n + 15) & ~15;

class WasmKernels implements PixelKernels {
  readonly name = "wasm";
  #x: Exports;
  #base: number;

  constructor(exports: Exports) {
    this.#x = exports;
    this.#base = exports.memory.buffer.byteLength; // scratch space starts above the module's own memory
  }

  /** Returns offsets of `sizes` byte regions in scratch memory, growing it when needed. */
  #alloc(...sizes: number[]): number[] {
    const offsets: number[] = [];
    let at = this.#base;
    for (const size of sizes) {
      offsets.push(at);
      at = align(at + size);
    }
    const have = this.#x.memory.buffer.byteLength;
    if (at > have) this.#x.memory.grow(Math.ceil((at - have) / 65536));
    return offsets;
  }

  #bytes(offset: number, length: number): Uint8Array {
    return new Uint8Array(this.#x.memory.buffer, offset, length);
  }

  rgbaToI420(image: RgbaImage, options: { readonly into?: Uint8Array } = {}): I420Image {
    checkRgba(image);
    const { width, height } = image;
    const size = i420Size(width, height);
    const out = checkInto(options.into, size, "rgbaToI420") ?? new Uint8Array(size);
    const [src, dst] = this.#alloc(image.data.length, size) as [number, number];
    this.#bytes(src, image.data.length).set(image.data);
    this.#x.rgbaToI420(src, width, height, dst);
    out.set(this.#bytes(dst, size));
    return { data: out, width, height };
  }

  i420ToRgba(image: I420Image, options: { readonly into?: Uint8Array } = {}): RgbaImage {
    checkI420(image);
    const { width, height } = image;
    const size = width * height * 4;
    const out = checkInto(options.into, size, "i420ToRgba") ?? new Uint8Array(size);
    const [src, dst] = this.#alloc(image.data.length, size) as [number, number];
    this.#bytes(src, image.data.length).set(image.data);
    this.#x.i420ToRgba(src, width, height, dst);
    out.set(this.#bytes(dst, size));
    return { data: out, width, height };
  }

  letterbox(image: RgbaImage, size: Size, options: LetterboxOptions = {}): LetterboxResult {
    checkRgba(image);
    checkSize(size, "letterbox target");
    const bytes = size.width * size.height * 4;
    const out = checkInto(options.into, bytes, "letterbox") ?? new Uint8Array(bytes);
    const geometry = letterboxGeometry(image, size);
    const xs = samplingTable(image.width, geometry.width, 4);
    const ys = samplingTable(image.height, geometry.height, 1);
    const [src, dst, xt, yt, tmp] = this.#alloc(
      image.data.length,
      bytes,
      xs.byteLength,
      ys.byteLength,
      image.width * 4,
    ) as [number, number, number, number, number];
    const mem = this.#x.memory.buffer;
    new Uint8Array(mem, src, image.data.length).set(image.data);
    new Int32Array(mem, xt, xs.length).set(xs);
    new Int32Array(mem, yt, ys.length).set(ys);
    const [pr, pg, pb] = options.pad ?? [114, 114, 114];
    const pad = ((255 << 24) | ((pb & 255) << 16) | ((pg & 255) << 8) | (pr & 255)) >>> 0;
    this.#x.resizeLetterbox(
      src,
      image.width,
      dst,
      size.width,
      size.height,
      geometry.offsetX,
      geometry.offsetY,
      geometry.width,
      geometry.height,
      xt,
      yt,
      tmp,
      pad,
    );
    out.set(this.#bytes(dst, bytes));
    return { data: out, width: size.width, height: size.height, geometry };
  }

  rgbaToNchw(image: RgbaImage, options: NchwOptions): Float32Array {
    checkRgba(image);
    const { scale, bias } = nchwCoefficients(options);
    const n = image.width * image.height;
    const out = checkInto(options.into, n * 3, "rgbaToNchw") ?? new Float32Array(n * 3);
    const [src, dst] = this.#alloc(image.data.length, n * 12) as [number, number];
    this.#bytes(src, image.data.length).set(image.data);
    this.#x.rgbaToNchw(src, n, dst, scale[0]!, scale[1]!, scale[2]!, bias[0]!, bias[1]!, bias[2]!);
    out.set(new Float32Array(this.#x.memory.buffer, dst, n * 3));
    return out;
  }

  motionScore(
    a: Uint8Array,
    b: Uint8Array,
    options: { readonly threshold?: number } = {},
  ): MotionScore {
    checkPlanes(a, b);
    const threshold = motionThreshold(options.threshold);
    const [pa, pb, res] = this.#alloc(a.length, b.length, 16) as [number, number, number];
    this.#bytes(pa, a.length).set(a);
    this.#bytes(pb, b.length).set(b);
    this.#x.motionScore(pa, pb, a.length, threshold, res);
    const [sum, count] = new Float64Array(this.#x.memory.buffer, res, 2);
    return { meanAbsDiff: sum! / (a.length * 255), changedRatio: count! / a.length };
  }
}

/** Loads the WASM kernels from `options.url` (default {@link KERNELS_URL}). */
export async function loadWasmKernels(
  options: { url?: URL; signal?: AbortSignal } = {},
): Promise<PixelKernels> {
  const url = options.url ?? KERNELS_URL;
  let bytes: ArrayBuffer;
  try {
    const res = await fetch(url, options.signal ? { signal: options.signal } : {});
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    bytes = await res.arrayBuffer();
  } catch (cause) {
    throw new KernelLoadError(
      `Cannot load pixel kernels from ${url}: ${
        (cause as Error).message
      } (./vend setup builds them)`,
      {
        cause,
      },
    );
  }
  try {
    const { instance } = await WebAssembly.instantiate(bytes, {
      env: {
        abort: (_msg: number, _file: number, line: number, col: number) => {
          throw new Error(`pixel kernel aborted at ${line}:${col}`);
        },
      },
    });
    return new WasmKernels(instance.exports as unknown as Exports);
  } catch (cause) {
    throw new KernelLoadError(
      `Cannot instantiate pixel kernels from ${url}: ${(cause as Error).message}`,
      { cause },
    );
  }
}
