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

/**
 * A block of the kernels' own memory. Images whose data is such a block are read in place, and
 * outputs written into one are not copied: the pipeline keeps hot frames here.
 * Views are re-made after the memory grows, so always read `bytes`/`floats` afresh.
 */
export interface ResidentBlock extends Disposable {
  /** Size in bytes. */
  readonly byteLength: number;
  /** The block as bytes. */
  readonly bytes: Uint8Array;
  /** The block as float32 values (byteLength / 4 of them). */
  readonly floats: Float32Array;
}

/** WASM pixel kernels, with blocks of their own memory for zero-copy use. */
export interface WasmPixelKernels extends PixelKernels {
  /** Allocates a block of `byteLength` bytes in the kernels' memory; dispose it to reuse it. */
  allocate(byteLength: number): ResidentBlock;
}

class WasmKernels implements WasmPixelKernels {
  readonly name = "wasm";
  #x: Exports;
  /** End of the resident blocks; per-call scratch space starts here. */
  #top: number;
  /** Freed resident blocks by size, for reuse. */
  #free = new Map<number, number[]>();

  constructor(exports: Exports) {
    this.#x = exports;
    this.#top = align(exports.memory.buffer.byteLength); // above the module's own memory
  }

  #ensure(end: number): void {
    const have = this.#x.memory.buffer.byteLength;
    if (end > have) this.#x.memory.grow(Math.ceil((end - have) / 65536));
  }

  allocate(byteLength: number): ResidentBlock {
    if (!Number.isInteger(byteLength) || byteLength <= 0) {
      throw new RangeError(
        `Cannot allocate ${byteLength} bytes of kernel memory: expected a positive integer`,
      );
    }
    const size = align(byteLength);
    let offset = this.#free.get(size)?.pop();
    if (offset === undefined) {
      offset = this.#top;
      this.#top += size;
      this.#ensure(this.#top);
    }
    const at = offset;
    const memory = this.#x.memory;
    const free = this.#free;
    let disposed = false;
    return {
      byteLength,
      get bytes() {
        if (disposed) throw new TypeError("Kernel memory block used after dispose");
        return new Uint8Array(memory.buffer, at, byteLength);
      },
      get floats() {
        if (disposed) throw new TypeError("Kernel memory block used after dispose");
        return new Float32Array(memory.buffer, at, byteLength >> 2);
      },
      [Symbol.dispose]() {
        if (disposed) return;
        disposed = true;
        const list = free.get(size) ?? [];
        list.push(at);
        free.set(size, list);
      },
    };
  }

  /** Offsets of `sizes` byte regions of per-call scratch space, growing memory when needed. */
  #alloc(...sizes: number[]): number[] {
    const offsets: number[] = [];
    let at = this.#top;
    for (const size of sizes) {
      offsets.push(at);
      at = align(at + size);
    }
    this.#ensure(at);
    return offsets;
  }

  /**
   * Pointer of `view` when it lies in kernel memory. Take it before any scratch allocation:
   * growing the memory detaches such views.
   */
  #ptr(view: Uint8Array | Float32Array | undefined): number | undefined {
    return view !== undefined && view.buffer === this.#x.memory.buffer
      ? view.byteOffset
      : undefined;
  }

  /** Pointer to the input: in place when resident (`at`), else copied into scratch. */
  #input(data: Uint8Array, at: number | undefined, scratch: number): number {
    if (at !== undefined) return at;
    new Uint8Array(this.#x.memory.buffer, scratch, data.length).set(data);
    return scratch;
  }

  #bytes(offset: number, length: number): Uint8Array {
    return new Uint8Array(this.#x.memory.buffer, offset, length);
  }

  /** The result: a fresh view of `into` when the kernel wrote into it in place, else a copy out of scratch. */
  #output(
    into: Uint8Array | undefined,
    at: number | undefined,
    dst: number,
    length: number,
  ): Uint8Array {
    if (at !== undefined) return this.#bytes(at, length);
    const out = into ?? new Uint8Array(length);
    out.set(this.#bytes(dst, length));
    return out;
  }

  /** Runs a whole-image colour conversion `kernel` from `image` into `size` output bytes. */
  #convert(
    kernel: (src: number, width: number, height: number, dst: number) => void,
    image: RgbaImage | I420Image,
    size: number,
    into: Uint8Array | undefined,
  ): Uint8Array {
    const inAt = this.#ptr(image.data), outAt = this.#ptr(into);
    const [scratchIn, scratchOut] = this.#alloc(image.data.length, size) as [number, number];
    const src = this.#input(image.data, inAt, scratchIn);
    const dst = outAt ?? scratchOut;
    kernel(src, image.width, image.height, dst);
    return this.#output(into, outAt, dst, size);
  }

  rgbaToI420(image: RgbaImage, options: { readonly into?: Uint8Array } = {}): I420Image {
    checkRgba(image);
    const size = i420Size(image.width, image.height);
    const into = checkInto(options.into, size, "rgbaToI420");
    return {
      data: this.#convert(this.#x.rgbaToI420, image, size, into),
      width: image.width,
      height: image.height,
    };
  }

  i420ToRgba(image: I420Image, options: { readonly into?: Uint8Array } = {}): RgbaImage {
    checkI420(image);
    const size = image.width * image.height * 4;
    const into = checkInto(options.into, size, "i420ToRgba");
    return {
      data: this.#convert(this.#x.i420ToRgba, image, size, into),
      width: image.width,
      height: image.height,
    };
  }

  letterbox(image: RgbaImage, size: Size, options: LetterboxOptions = {}): LetterboxResult {
    checkRgba(image);
    checkSize(size, "letterbox target");
    const bytes = size.width * size.height * 4;
    const into = checkInto(options.into, bytes, "letterbox");
    const geometry = letterboxGeometry(image, size);
    const xs = samplingTable(image.width, geometry.width, 4);
    const ys = samplingTable(image.height, geometry.height, 1);
    const inAt = this.#ptr(image.data), outAt = this.#ptr(into);
    const [scratchIn, scratchOut, xt, yt, tmp] = this.#alloc(
      image.data.length,
      bytes,
      xs.byteLength,
      ys.byteLength,
      image.width * 4,
    ) as [number, number, number, number, number];
    const src = this.#input(image.data, inAt, scratchIn);
    const dst = outAt ?? scratchOut;
    const mem = this.#x.memory.buffer;
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
    return {
      data: this.#output(into, outAt, dst, bytes),
      width: size.width,
      height: size.height,
      geometry,
    };
  }

  rgbaToNchw(image: RgbaImage, options: NchwOptions): Float32Array {
    checkRgba(image);
    const { scale, bias } = nchwCoefficients(options);
    const n = image.width * image.height;
    const into = checkInto(options.into, n * 3, "rgbaToNchw");
    const inAt = this.#ptr(image.data), outAt = this.#ptr(into);
    const [scratchIn, scratchOut] = this.#alloc(image.data.length, n * 12) as [number, number];
    const src = this.#input(image.data, inAt, scratchIn);
    const dst = outAt ?? scratchOut;
    this.#x.rgbaToNchw(src, n, dst, scale[0]!, scale[1]!, scale[2]!, bias[0]!, bias[1]!, bias[2]!);
    if (outAt !== undefined) return new Float32Array(this.#x.memory.buffer, outAt, n * 3);
    const out = into ?? new Float32Array(n * 3);
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
    const aAt = this.#ptr(a), bAt = this.#ptr(b);
    const [sa, sb, res] = this.#alloc(a.length, b.length, 16) as [number, number, number];
    const pa = this.#input(a, aAt, sa);
    const pb = this.#input(b, bAt, sb);
    this.#x.motionScore(pa, pb, a.length, threshold, res);
    const [sum, count] = new Float64Array(this.#x.memory.buffer, res, 2);
    return { meanAbsDiff: sum! / (a.length * 255), changedRatio: count! / a.length };
  }
}

/** Loads the WASM kernels from `options.url` (default {@link KERNELS_URL}). */
export async function loadWasmKernels(
  options: { url?: URL; signal?: AbortSignal } = {},
): Promise<WasmPixelKernels> {
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
