/**
 * Recognition on the device: loads the slot model from a model artifact folder (`model.json` and
 * its ONNX file) into onnxruntime-web (WASM, default) or onnxruntime-node (native, where the
 * device has it), feeds the machine's frame sets to a {@link SessionRecognizer} and decides each
 * door session's cart. A model update is applied in place: the new model is loaded and checked
 * first, and only then replaces the one serving; a model that fails to load is refused and the
 * previous one keeps serving. A candidate model can run beside it in shadow mode (same crops,
 * never charged): one the live crops do not fit, or that forgets a stocked SKU the live model
 * knows, is refused at load and the live model goes on alone.
 *
 * @example
 * ```ts
 * import { DeviceRecognition } from "./device_recognition.ts";
 *
 * const recognition = await DeviceRecognition.start("/var/lib/vendstream/model", {
 *   planogram: { slots: [] },
 * });
 * console.log(recognition.modelVersion);
 * ```
 *
 * @module
 */
import {
  checkPlanogram,
  type FrameSet,
  inputMismatch,
  ModelLoadError,
  type Planogram,
  type RecognizedCart,
  SessionRecognizer,
  SlotClassifier,
} from "../../pipeline/mod.ts";
import {
  loadOrtWeb,
  loadWasmKernels,
  type OnnxRuntime,
  type PixelKernels,
} from "../../wasm/mod.ts";

/** Options of {@link DeviceRecognition.start}. */
export interface DeviceRecognitionOptions {
  /** The cabinet's planogram, or a function giving the current one (a simulated cabinet). */
  readonly planogram: Planogram | (() => Planogram);
  /** `wasm` (onnxruntime-web) or `native` (onnxruntime-node). Default wasm. */
  readonly backend?: "wasm" | "native";
  /** Inference threads. Default 1. */
  readonly threads?: number;
  /** Review threshold. Default 0.8. */
  readonly threshold?: number;
  /** SKUs this machine sells: a model with other labels is refused. */
  readonly knownSkus?: readonly string[];
  /** The cabinet's cameras: a fixed planogram with a slot none of them sees is refused. */
  readonly cameras?: readonly string[];
  /** Pixel kernels. Default the WASM ones. */
  readonly kernels?: PixelKernels;
  /** Log sink (a replaced model that fails to release). */
  readonly log?: (
    level: "info" | "warn" | "error",
    msg: string,
    f?: Record<string, unknown>,
  ) => void;
}

/** The ONNX Runtime of `backend`: onnxruntime-web (WASM) or onnxruntime-node, with `threads`. */
export async function onnxRuntime(
  backend: "wasm" | "native",
  threads: number,
): Promise<OnnxRuntime> {
  if (backend === "wasm") return await loadOrtWeb({ threads });
  // Not bundled: a device that has the native runtime has it installed beside the program.
  const name = "onnxruntime-node";
  const native = (await import(name)) as OnnxRuntime;
  return {
    Tensor: native.Tensor,
    InferenceSession: {
      create: (model, options) =>
        native.InferenceSession.create(model, {
          ...options,
          intraOpNumThreads: threads,
          interOpNumThreads: 1,
        }),
    },
  };
}

/** Reads a model artifact folder (`model.json` and the ONNX file it names). */
export async function readModelDir(dir: string): Promise<{ manifest: string; onnx: Uint8Array }> {
  let manifest: string;
  try {
    manifest = await Deno.readTextFile(`${dir}/model.json`);
  } catch (cause) {
    throw new ModelLoadError(`Cannot load a model from ${dir}: no model.json`, { cause });
  }
  let file = "slot_model.onnx";
  try {
    const f = JSON.parse(manifest)?.file;
    if (typeof f === "string" && /^[A-Za-z0-9._-]+$/.test(f)) file = f;
  } catch (e) {
    // Not JSON: the default file name is tried, and the classifier names the manifest's problem.
    if (!(e instanceof SyntaxError)) throw e;
  }
  try {
    return { manifest, onnx: await Deno.readFile(`${dir}/${file}`) };
  } catch (cause) {
    throw new ModelLoadError(`Cannot load a model from ${dir}: no ${file}`, { cause });
  }
}

/** The device's recognition: a model, a session recognizer, hot model updates. */
export class DeviceRecognition implements AsyncDisposable {
  readonly #ort: OnnxRuntime;
  readonly #options: DeviceRecognitionOptions;
  readonly #recognizer: SessionRecognizer;
  #model: SlotClassifier;
  #candidate: SlotClassifier | undefined;
  #planogram: Planogram | (() => Planogram);
  /** Door sessions opened and not decided yet: a new planogram waits for none to be open. */
  readonly #openSessions = new Set<string>();
  #nextPlanogram: { planogram: Planogram; inUse: () => void } | undefined;

  private constructor(
    ort: OnnxRuntime,
    model: SlotClassifier,
    options: DeviceRecognitionOptions,
    kernels: PixelKernels,
  ) {
    this.#ort = ort;
    this.#model = model;
    this.#options = options;
    this.#planogram = options.planogram;
    this.#recognizer = new SessionRecognizer(model, () => {
      const p = this.#planogram;
      return typeof p === "function" ? p() : p;
    }, {
      kernels,
      ...(options.threshold !== undefined ? { threshold: options.threshold } : {}),
    });
  }

  /**
   * Loads the model in `dir`; refused with {@link ModelLoadError}, or with `PlanogramError` when
   * a fixed planogram is not usable (a slot twice, a slot no camera sees). A SKU the model does
   * not know is stocked: its slot's sessions go to review.
   */
  static async start(dir: string, options: DeviceRecognitionOptions): Promise<DeviceRecognition> {
    const ort = await onnxRuntime(options.backend ?? "wasm", options.threads ?? 1);
    const model = await SlotClassifier.load(ort, await readModelDir(dir), {
      ...(options.knownSkus ? { knownSkus: options.knownSkus } : {}),
    });
    if (typeof options.planogram !== "function") {
      try {
        checkPlanogram(options.planogram, options.cameras ? { cameras: options.cameras } : {});
      } catch (e) {
        await model[Symbol.asyncDispose]();
        throw e;
      }
    }
    return new DeviceRecognition(ort, model, options, options.kernels ?? (await loadWasmKernels()));
  }

  /** The SKUs the model serving knows. */
  get labels(): readonly string[] {
    return this.#model.manifest.labels.slice(1);
  }

  /** `name version` of the model serving. */
  get modelVersion(): string {
    return `${this.#model.manifest.name} ${this.#model.manifest.version}`;
  }

  /** `name version` of the candidate model in shadow mode, if one runs. */
  get candidateVersion(): string | undefined {
    // The recognizer stops a candidate that fails: then none runs.
    const c = this.#recognizer.candidate === this.#candidate ? this.#candidate : undefined;
    return c && `${c.manifest.name} ${c.manifest.version}`;
  }

  /**
   * Runs the model in `dir` beside the live one in shadow mode (its decisions are published, never
   * charged); undefined stops the one running. Refused with {@link ModelLoadError} (the live model
   * goes on alone) when it does not load, does not take the live model's crops, or forgets a
   * stocked SKU the live model knows.
   */
  async useCandidateDir(dir: string | undefined): Promise<void> {
    const next = dir === undefined ? undefined : await SlotClassifier.load(
      this.#ort,
      await readModelDir(dir),
      this.#options.knownSkus ? { knownSkus: this.#options.knownSkus } : {},
    );
    const why = next && (inputMismatch(this.#model.manifest, next.manifest) ?? this.#forgets(next));
    if (next && why) {
      await next[Symbol.asyncDispose]();
      throw new ModelLoadError(`Cannot run the model in ${dir} in shadow mode: ${why}`);
    }
    const old = this.#candidate;
    this.#candidate = next;
    this.#recognizer.useCandidate(next);
    if (old) await this.#release(old, "candidate");
  }

  /** Takes a frame set of the machine. */
  observe(set: FrameSet): void {
    this.#recognizer.observe(set);
  }

  /** Cameras that moved or see another light since calibration (as last measured), by id. */
  cameraMotion(): Record<
    string,
    { dx: number; dy: number; roll: number; gain: readonly number[] }
  > {
    const out: Record<string, { dx: number; dy: number; roll: number; gain: readonly number[] }> =
      {};
    const planogram = typeof this.#planogram === "function" ? this.#planogram() : this.#planogram;
    const cameras = new Set(planogram.slots.flatMap((s) => Object.keys(s.regions)));
    for (const id of cameras) {
      const m = this.#recognizer.cameraMotion(id);
      if (m && (m.dx || m.dy || m.roll || m.gain.some((g) => g !== 1))) {
        const r = (x: number) => Math.round(x * 100) / 100;
        out[id] = { dx: r(m.dx), dy: r(m.dy), roll: r(m.roll), gain: m.gain.map(r) };
      }
    }
    return out;
  }

  /** The door opened (device clock): the session's pictures are kept and classified as they come. */
  open(session: { sessionId: string; openedAt: number }): void {
    this.#openSessions.add(session.sessionId);
    this.#recognizer.open(session);
  }

  /** Decides a door session's cart and its take/return events (device clock, the frame sets' clock). */
  async decide(
    session: { sessionId: string; openedAt: number; closedAt: number },
  ): Promise<RecognizedCart> {
    try {
      return await this.#recognizer.decide(session);
    } finally {
      this.#openSessions.delete(session.sessionId);
      if (this.#openSessions.size === 0) this.#switchPlanogram();
    }
  }

  /**
   * Decides by `planogram` from the next door session on: at once while the door is closed,
   * else once the open session is decided (a later call replaces one still waiting). It must
   * keep the slots of the one in use, in their order (a new assignment of SKUs); `inUse` is
   * called once it serves. Refused with `PlanogramError` when no camera sees a slot (a SKU the
   * model does not know is taken: its slot's sessions go to review).
   */
  usePlanogram(planogram: Planogram, inUse: () => void = () => {}): void {
    checkPlanogram(planogram, this.#options.cameras ? { cameras: this.#options.cameras } : {});
    this.#nextPlanogram = { planogram, inUse };
    if (this.#openSessions.size === 0) this.#switchPlanogram();
  }

  #switchPlanogram(): void {
    const next = this.#nextPlanogram;
    if (!next) return;
    this.#nextPlanogram = undefined;
    this.#planogram = next.planogram;
    next.inUse();
  }

  /**
   * Serves the model in `dir` from now on, once it has loaded and passed its checks; otherwise
   * throws {@link ModelLoadError} and the current model keeps serving.
   */
  async useModelDir(dir: string): Promise<void> {
    const next = await SlotClassifier.load(this.#ort, await readModelDir(dir), {
      ...(this.#options.knownSkus ? { knownSkus: this.#options.knownSkus } : {}),
    });
    const lost = this.#forgets(next);
    if (lost) {
      await next[Symbol.asyncDispose]();
      throw new ModelLoadError(`Cannot serve the model in ${dir}: ${lost}`);
    }
    const old = this.#model;
    this.#model = next;
    this.#recognizer.useModel(next);
    const candidate = this.#candidate;
    // The candidate promoted (now live), or one the new live crops no longer fit: it stops.
    const stop = candidate &&
      (candidate.manifest.sha256 === next.manifest.sha256
        ? "promoted"
        : inputMismatch(next.manifest, candidate.manifest));
    if (candidate && stop) {
      this.#candidate = undefined;
      this.#recognizer.useCandidate(undefined);
      this.#options.log?.("info", "candidate model stopped", {
        model: `${candidate.manifest.name} ${candidate.manifest.version}`,
        reason: stop,
      });
      await this.#release(candidate, "candidate");
    }
    // The new model serves already: an old one that fails to release is logged, not a refusal.
    await this.#release(old, "replaced");
  }

  /** Releases a model no longer used; a failure is logged (it serves no more either way). */
  async #release(model: SlotClassifier, what: "replaced" | "candidate"): Promise<void> {
    await model[Symbol.asyncDispose]().catch((e) =>
      this.#options.log?.("warn", `cannot release the ${what} model`, {
        model: `${model.manifest.name} ${model.manifest.version}`,
        error: String(e),
      })
    );
  }

  /**
   * Why `next` would serve this cabinet worse than the model serving: it does not know a SKU the
   * planogram (in use, or waiting) stocks and the serving model knows; undefined if none.
   */
  #forgets(next: SlotClassifier): string | undefined {
    const p = this.#nextPlanogram?.planogram ?? this.#planogram;
    const planogram = typeof p === "function" ? p() : p;
    const serving = new Set(this.labels);
    const labels = new Set(next.manifest.labels.slice(1));
    for (const [i, s] of planogram.slots.entries()) {
      if (s.sku !== null && serving.has(s.sku) && !labels.has(s.sku)) {
        return `the planogram's slots.${i}.sku: ${next.manifest.name} ${next.manifest.version} ` +
          `does not know "${s.sku}", which shelf ${s.shelf} slot ${s.slot} holds and the model ` +
          `serving knows`;
      }
    }
    return undefined;
  }

  /** Releases the models. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#candidate) await this.#release(this.#candidate, "candidate");
    await this.#model[Symbol.asyncDispose]();
  }
}
