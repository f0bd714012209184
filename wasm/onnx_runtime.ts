/**
 * Loads onnxruntime-web (its WASM build, SIMD; threads when asked) with its files from
 * node_modules, and describes the part of the ONNX Runtime API the pipeline uses, which
 * onnxruntime-node (the native backend, where a device has it) shares.
 *
 * @example
 * ```ts
 * import { loadOrtWeb } from "./onnx_runtime.ts";
 *
 * const ort = await loadOrtWeb({ threads: 1 });
 * const session = await ort.InferenceSession.create(new Uint8Array(0)).catch((e) => e);
 * console.log(session instanceof Error); // an empty model is refused
 * ```
 *
 * @module
 */

/** A tensor as ONNX Runtime gives it. */
export interface OrtTensor {
  readonly data: unknown;
  readonly dims: readonly number[];
  readonly type: string;
  dispose?(): void;
}

/** A loaded model. */
export interface OrtSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}

/** What the pipeline needs of an ONNX Runtime (web or node). */
export interface OnnxRuntime {
  readonly InferenceSession: {
    create(model: Uint8Array, options?: Record<string, unknown>): Promise<OrtSession>;
  };
  readonly Tensor: new (type: "float32", data: Float32Array, dims: readonly number[]) => OrtTensor;
}

/**
 * The web Worker, taken when this module loads. onnxruntime-web's Node.js build (the one Deno
 * resolves) sets `globalThis.Worker` to `worker_threads.Worker` when its WASM first loads, and
 * that Worker runs no web worker: the program's own workers (the cloud's ingest thread, an
 * agent's) would never start. {@link loadOrtWeb} puts it back once a model has loaded.
 */
const WebWorker: typeof Worker | undefined = globalThis.Worker;

/** Puts the web Worker back in `globalThis` if onnxruntime-web replaced it. */
function restoreWebWorker(): void {
  if (WebWorker !== undefined && globalThis.Worker !== WebWorker) globalThis.Worker = WebWorker;
}

/** Options of {@link loadOrtWeb}. */
export interface LoadOrtWebOptions {
  /** WASM threads. Default 1 (two only help when no other stage keeps a core busy). */
  readonly threads?: number;
}

/** onnxruntime-web's module, set up. */
export async function loadOrtWeb(options: LoadOrtWebOptions = {}): Promise<OnnxRuntime> {
  const threads = options.threads ?? 1;
  if (!Number.isInteger(threads) || threads < 1 || threads > 16) {
    throw new RangeError(`Cannot run onnxruntime-web with ${threads} threads: expected 1-16`);
  }
  const ort = await import("onnxruntime-web");
  // Deno leaves crossOriginIsolated undefined, so threads run only when set explicitly.
  ort.env.wasm.numThreads = threads;
  ort.env.wasm.simd = true;
  const runtime = ort as unknown as OnnxRuntime;
  return {
    Tensor: runtime.Tensor,
    InferenceSession: {
      // The WASM (and its pthread pool, when threads > 1) loads with the first model.
      async create(model, sessionOptions) {
        try {
          return await runtime.InferenceSession.create(model, sessionOptions);
        } finally {
          restoreWebWorker();
        }
      },
    },
  };
}
