/**
 * Runs a slot model (ONNX) on batches of slot crops with any ONNX Runtime that has the shared
 * API (onnxruntime-web's WASM build by default, onnxruntime-node as the native backend). A model
 * is checked when it loads: its manifest must parse, the file must have the manifest's SHA-256,
 * the network must take the manifest's input and give one `sku` probability per label and one
 * `count` probability per unit count (and, with a hand head, one `hand` probability per label
 * plus one), and its labels must be SKUs the machine knows. Anything else
 * is refused with {@link ModelLoadError}, so the caller keeps serving the model it had.
 *
 * @example
 * ```ts
 * import { loadOrtWeb } from "../wasm/mod.ts";
 * import { SlotClassifier } from "./slot_classifier.ts";
 *
 * const ort = await loadOrtWeb();
 * const manifest = await (await fetch(new URL("./model.json", import.meta.url))).text();
 * const onnx = await (await fetch(new URL("./slot_model.onnx", import.meta.url))).bytes();
 * await using model = await SlotClassifier.load(ort, { manifest, onnx });
 * console.log(model.manifest.version);
 * ```
 *
 * @module
 */
import { type ModelManifest, modelManifest, sha256Hex } from "../protocol/mod.ts";
import type { OnnxRuntime, OrtSession } from "../wasm/mod.ts";

/** A model that cannot be used; the message says why. */
export class ModelLoadError extends Error {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ModelLoadError";
  }
}

/**
 * Probabilities for a batch: `sku` is n x labels, `count` n x (maxCount + 1), `hand` (models with
 * a hand head) n x (labels + 1): no hand over the slot, then a hand holding each label.
 */
export interface SlotProbabilities {
  readonly n: number;
  readonly sku: Float32Array;
  readonly count: Float32Array;
  readonly hand?: Float32Array;
}

/** A loaded slot model. */
export class SlotClassifier implements AsyncDisposable {
  /** The model's manifest. */
  readonly manifest: ModelManifest;
  readonly #ort: OnnxRuntime;
  readonly #session: OrtSession;

  private constructor(ort: OnnxRuntime, session: OrtSession, manifest: ModelManifest) {
    this.#ort = ort;
    this.#session = session;
    this.manifest = manifest;
  }

  /**
   * Loads and checks a model. `knownSkus`, when given, are the SKUs this machine sells: a model
   * with a label outside them is refused (it was trained for another catalogue).
   */
  static async load(
    ort: OnnxRuntime,
    files: { readonly manifest: string | Uint8Array; readonly onnx: Uint8Array },
    options: { readonly knownSkus?: readonly string[] } = {},
  ): Promise<SlotClassifier> {
    const parsed = modelManifest.parse(files.manifest);
    if (!parsed.ok) {
      throw new ModelLoadError(
        `Cannot load model: its manifest is invalid: ${parsed.error.message}`,
        {
          cause: parsed.error,
        },
      );
    }
    const m = parsed.value;
    const what = `model ${m.name} ${m.version}`;
    const sha = await sha256Hex(files.onnx);
    if (files.onnx.length !== m.bytes || sha !== m.sha256) {
      throw new ModelLoadError(
        `Cannot load ${what}: ${m.file} is corrupt (${files.onnx.length} bytes, SHA-256 ${sha}; ` +
          `the manifest says ${m.bytes} bytes, ${m.sha256})`,
      );
    }
    if (options.knownSkus) {
      const known = new Set(options.knownSkus);
      const unknown = m.labels.slice(1).filter((l) => !known.has(l));
      if (unknown.length > 0) {
        throw new ModelLoadError(
          `Cannot load ${what}: labels ${unknown.join(", ")} are not in this machine's catalogue`,
        );
      }
    }
    let session: OrtSession;
    try {
      session = await ort.InferenceSession.create(files.onnx);
    } catch (cause) {
      throw new ModelLoadError(`Cannot load ${what}: ${(cause as Error).message}`, { cause });
    }
    const model = new SlotClassifier(ort, session, m);
    try {
      const names = (xs: readonly string[]) => [...xs].sort().join(", ");
      if (!session.inputNames.includes(m.input.name)) {
        throw new ModelLoadError(
          `Cannot load ${what}: it has inputs ${names(session.inputNames)}, not ${m.input.name}`,
        );
      }
      for (const out of [m.outputs.sku, m.outputs.count, m.outputs.hand ?? m.outputs.sku]) {
        if (!session.outputNames.includes(out)) {
          throw new ModelLoadError(
            `Cannot load ${what}: it has outputs ${names(session.outputNames)}, not ${out}`,
          );
        }
      }
      // One crop through the network proves the input shape and the output sizes.
      const probe = await model.classify(new Float32Array(3 * m.input.size * m.input.size), 1)
        .catch((cause) => {
          throw new ModelLoadError(
            `Cannot load ${what}: it does not take a ${m.input.size}x${m.input.size} NCHW crop ` +
              `(${(cause as Error).message})`,
            { cause },
          );
        });
      if (probe.sku.length !== m.labels.length || probe.count.length !== m.maxCount + 1) {
        throw new ModelLoadError(
          `Cannot load ${what}: it gives ${probe.sku.length} SKU and ${probe.count.length} count ` +
            `classes, its manifest ${m.labels.length} labels and counts 0..${m.maxCount}`,
        );
      }
      if (probe.hand && probe.hand.length !== m.labels.length + 1) {
        throw new ModelLoadError(
          `Cannot load ${what}: it gives ${probe.hand.length} hand classes, its manifest ` +
            `${m.labels.length} labels (${m.labels.length + 1} hand classes)`,
        );
      }
    } catch (e) {
      await session.release();
      throw e;
    }
    return model;
  }

  /** Side of the square crops the model takes. */
  get size(): number {
    return this.manifest.input.size;
  }

  /** Probabilities of `n` NCHW crops. */
  async classify(batch: Float32Array, n: number): Promise<SlotProbabilities> {
    const s = this.manifest.input.size;
    if (!Number.isInteger(n) || n < 1 || batch.length !== n * 3 * s * s) {
      throw new RangeError(
        `Cannot classify ${n} crops from ${batch.length} floats (${s}x${s} each)`,
      );
    }
    const input = new this.#ort.Tensor("float32", batch, [n, 3, s, s]);
    const out = await this.#session.run({ [this.manifest.input.name]: input });
    const sku = out[this.manifest.outputs.sku]!;
    const count = out[this.manifest.outputs.count]!;
    const hand = this.manifest.outputs.hand ? out[this.manifest.outputs.hand] : undefined;
    const result = {
      n,
      sku: Float32Array.from(sku.data as Float32Array),
      count: Float32Array.from(count.data as Float32Array),
      ...(hand ? { hand: Float32Array.from(hand.data as Float32Array) } : {}),
    };
    input.dispose?.();
    sku.dispose?.();
    count.dispose?.();
    hand?.dispose?.();
    return result;
  }

  /** Releases the session. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.#session.release();
  }
}
