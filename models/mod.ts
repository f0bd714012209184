/**
 * Product catalogue, synthetic dataset, training, ONNX export, evaluation and model artifacts
 * (web standards only, no `Deno.*`). Built by the recognition issue; nothing is exported yet.
 *
 * @example
 * ```ts
 * import * as models from "./mod.ts";
 * console.log(Object.keys(models)); // [] until the catalogue lands
 * ```
 *
 * @module
 */
export {};
