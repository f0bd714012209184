/**
 * The WASM parts of Vendstream: pixel kernels written in AssemblyScript with WASM SIMD
 * (colour conversion, letterbox resize, NCHW normalisation, motion score), each with a plain
 * TypeScript reference that defines its exact arithmetic.
 *
 * @example
 * ```ts
 * import { loadWasmKernels } from "./mod.ts";
 *
 * const kernels = await loadWasmKernels();
 * const frame = { data: new Uint8Array(640 * 480 * 4), width: 640, height: 480 };
 * const input = kernels.letterbox(frame, { width: 96, height: 96 });
 * const tensor = kernels.rgbaToNchw(input, { mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] });
 * ```
 *
 * @module
 */
export {
  FFMPEG_CORE_WASM_URL,
  type FfmpegCore,
  FfmpegLoadError,
  loadFfmpegCore,
} from "./ffmpeg_core.ts";
export {
  FFMPEG_INPUT,
  FFMPEG_OUTPUT,
  FFMPEG_WORKER_URL,
  FfmpegCrashedError,
  type FfmpegJob,
  type FfmpegJobResult,
  FfmpegWorker,
  type FfmpegWorkerOptions,
} from "./ffmpeg_worker.ts";
export {
  checkI420,
  checkRgba,
  checkSize,
  type I420Image,
  i420Size,
  type RgbaImage,
  type Size,
} from "./image.ts";
export {
  type LetterboxGeometry,
  letterboxGeometry,
  type LetterboxOptions,
  type LetterboxResult,
  type MotionScore,
  type NchwOptions,
  type PixelKernels,
  samplingTable,
  type Triple,
} from "./pixel_kernels.ts";
export { referenceKernels } from "./reference_kernels.ts";
export { KernelLoadError, KERNELS_URL, loadWasmKernels } from "./wasm_kernels.ts";
export {
  loadOrtWeb,
  type LoadOrtWebOptions,
  type OnnxRuntime,
  type OrtSession,
  type OrtTensor,
} from "./onnx_runtime.ts";
