/**
 * Starts TensorFlow.js (training only; devices never load it) on its WASM backend (SIMD) with the backend's .wasm files read from
 * node_modules (no network). tfjs-node cannot be installed here (its install downloads
 * libtensorflow), so training runs on this backend.
 *
 * @example
 * ```ts
 * import { startTfjsWasm } from "./tfjs_backend.ts";
 *
 * const tf = await startTfjsWasm();
 * console.log(tf.getBackend()); // "wasm"
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";

/** TensorFlow.js could not start its WASM backend. */
export class TfjsStartError extends Error {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TfjsStartError";
  }
}

let started: Promise<typeof tf> | undefined;

/** Sets the WASM backend up once; later calls share it. */
export function startTfjsWasm(): Promise<typeof tf> {
  return started ??= (async () => {
    // The package's node build reads its .wasm from a file-system prefix: its dist/ folder.
    const dist = new URL(".", import.meta.resolve("@tensorflow/tfjs-backend-wasm")).pathname;
    setWasmPaths(dist);
    tf.env().set("IS_TEST", false);
    if (!(await tf.setBackend("wasm"))) {
      throw new TfjsStartError(`Cannot start the tfjs WASM backend from ${dist}`);
    }
    await tf.ready();
    return tf;
  })();
}
