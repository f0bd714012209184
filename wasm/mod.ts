/**
 * The WASM parts: AssemblyScript pixel kernels and the loaders of ffmpeg.wasm and
 * onnxruntime-web. Built by the pipeline, recording and recognition issues; nothing is
 * exported yet.
 *
 * @example
 * ```ts
 * import * as wasm from "./mod.ts";
 * console.log(Object.keys(wasm)); // [] until the kernels land
 * ```
 *
 * @module
 */
export {};
