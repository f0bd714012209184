/**
 * Session understanding on the device: watches the machine's frame sets, keeps recent slot crops
 * of every camera (sampled, not every frame), and when a door session ends decides its cart from
 * the shelves just before the door opened and just after it closed (see `cart_decision.ts`). A
 * frame set with a camera missing gives fewer views of its slots (lower confidence), not a
 * failure; no picture before or after the session sends it to review.
 *
 * @example
 * ```ts
 * import { referenceKernels } from "../wasm/mod.ts";
 * import { SessionRecognizer } from "./session_recognizer.ts";
 * import type { SlotClassifier } from "./slot_classifier.ts";
 * import type { Planogram } from "./planogram.ts";
 *
 * declare const model: SlotClassifier;
 * declare const planogram: Planogram;
 * const recognizer = new SessionRecognizer(model, planogram, { kernels: referenceKernels });
 * // recognizer.observe(frameSet) for every frame set, then at door close:
 * const d = await recognizer.decide({ sessionId: "s1", openedAt: 1000, closedAt: 9000 });
 * console.log(d.cart, d.reviewReasons);
 * ```
 *
 * @module
 */
import type { PixelKernels, RgbaImage } from "../wasm/mod.ts";
import { type CartDecision, decideCart, type SlotEvidence } from "./cart_decision.ts";
import type { FrameSet } from "./frame_set.ts";
import type { Planogram } from "./planogram.ts";
import type { SlotClassifier } from "./slot_classifier.ts";
import { slotCrops } from "./slot_crops.ts";

/** The part of a slot model the recognizer uses. */
export type SlotModel = Pick<SlotClassifier, "manifest" | "classify">;

/** Options of {@link SessionRecognizer}. */
export interface SessionRecognizerOptions {
  /** Pixel kernels for the crops. */
  readonly kernels: PixelKernels;
  /** Crops are taken at most this often, ms. Default 150. */
  readonly sampleEveryMs?: number;
  /** Samples used before the door opened and after it closed (averaged). Default 3. */
  readonly samples?: number;
  /** After the door closes, wait for the light to settle, ms. Default 400. */
  readonly settleMs?: number;
  /** Longest wait for a frame set after the door closed, ms. Default 2000. */
  readonly waitMs?: number;
  /** A picture older than this before the door opened is not used, ms. Default 5000. */
  readonly maxAgeMs?: number;
  /** Review threshold on the whole-cart confidence. Default 0.8. */
  readonly threshold?: number;
}

interface Sample {
  readonly ts: number;
  /** Which slot and camera each crop is. */
  readonly index: readonly { slot: number; cameraId: string }[];
  readonly crops: Float32Array;
  /** The planogram the crops were cut by. */
  readonly planogram: Planogram;
}

/** Decides door sessions' carts from the frame sets it observes. */
export class SessionRecognizer {
  #model: SlotModel;
  readonly #planogram: Planogram | (() => Planogram);
  readonly #o: SessionRecognizerOptions;
  readonly #samples: Sample[] = [];
  #waiting: { after: number; wake: () => void } | undefined;

  /** Creates the recognizer. */
  constructor(
    model: SlotModel,
    planogram: Planogram | (() => Planogram),
    options: SessionRecognizerOptions,
  ) {
    this.#model = model;
    this.#planogram = planogram;
    this.#o = options;
  }

  /** The model in use. */
  get model(): SlotModel {
    return this.#model;
  }

  #currentPlanogram(): Planogram {
    return typeof this.#planogram === "function" ? this.#planogram() : this.#planogram;
  }

  /** Uses another model from now on (a model update applied without a restart). */
  useModel(model: SlotModel): void {
    this.#model = model;
  }

  /** Takes a frame set (the caller keeps ownership; it is not kept). */
  observe(set: FrameSet): void {
    const last = this.#samples.at(-1);
    const due = !last || set.ts - last.ts >= (this.#o.sampleEveryMs ?? 150) ||
      (this.#waiting !== undefined && set.ts >= this.#waiting.after &&
        last.ts < this.#waiting.after);
    if (!due) return;
    const { kernels } = this.#o;
    const { input } = this.#model.manifest;
    const planogram = this.#currentPlanogram();
    const index: Array<{ slot: number; cameraId: string }> = [];
    const parts: Float32Array[] = [];
    for (const [cameraId, frame] of set.frames) {
      const image: RgbaImage = frame.format === "rgba"
        ? { data: frame.data, width: frame.width, height: frame.height }
        : kernels.i420ToRgba({ data: frame.data, width: frame.width, height: frame.height });
      const slots = planogram.slots
        .map((s, i) => ({ i, region: s.regions[cameraId] }))
        .filter((s) => s.region);
      if (slots.length === 0) continue;
      parts.push(slotCrops(image, slots.map((s) => s.region!), {
        kernels,
        size: input.size,
        mean: input.mean,
        std: input.std,
      }));
      for (const s of slots) index.push({ slot: s.i, cameraId });
    }
    const crops = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      crops.set(p, at);
      at += p.length;
    }
    this.#samples.push({ ts: set.ts, index, crops, planogram });
    // Keep what a decision can still need: the last few seconds.
    const horizon = set.ts - (this.#o.maxAgeMs ?? 5000) - 60_000;
    while (this.#samples.length > 2 && this.#samples[0]!.ts < horizon) this.#samples.shift();
    if (this.#waiting && set.ts >= this.#waiting.after) this.#waiting.wake();
  }

  /** Decides the cart of the session that ran from `openedAt` to `closedAt` (frame clock). */
  async decide(
    session: { readonly sessionId: string; readonly openedAt: number; readonly closedAt: number },
    options: { readonly signal?: AbortSignal } = {},
  ): Promise<CartDecision> {
    const model = this.#model;
    const settle = session.closedAt + (this.#o.settleMs ?? 400);
    const want = this.#o.samples ?? 3;
    const afterCount = () => this.#samples.filter((s) => s.ts >= settle).length;
    if (afterCount() < want) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          options.signal?.removeEventListener("abort", done);
          this.#waiting = undefined;
          resolve();
        };
        const timer = setTimeout(done, this.#o.waitMs ?? 2000);
        options.signal?.addEventListener("abort", done, { once: true });
        this.#waiting = { after: settle, wake: () => afterCount() >= want && done() };
      });
    }
    const maxAge = this.#o.maxAgeMs ?? 5000;
    const before = this.#samples.filter((s) =>
      s.ts < session.openedAt && s.ts >= session.openedAt - maxAge
    ).slice(-want);
    const after = this.#samples.filter((s) => s.ts >= settle).slice(0, want);
    const version = model.manifest.version;
    const missing = [
      ...(before.length ? [] : ["no picture of the shelves before the door opened"]),
      ...(after.length ? [] : ["no picture of the shelves after the door closed"]),
    ];
    if (missing.length > 0) {
      return { cart: [], confidence: 0, reviewReasons: missing, modelVersion: version };
    }
    const chosen = [...before, ...after];
    const n = chosen.reduce((sum, x) => sum + x.index.length, 0);
    const batch = new Float32Array(chosen.reduce((sum, x) => sum + x.crops.length, 0));
    const offsets: number[] = [];
    let at = 0;
    let row = 0;
    for (const x of chosen) {
      batch.set(x.crops, at);
      offsets.push(row);
      at += x.crops.length;
      row += x.index.length;
    }
    const p = await model.classify(batch, n);
    const k = model.manifest.labels.length;
    const c = model.manifest.maxCount + 1;
    // Per slot and camera: the mean over the moment's samples (noise averages out, the camera's
    // own view stays one piece of evidence), then the cameras are pooled by the decision.
    const evidence = (samples: readonly Sample[], first: number): SlotEvidence[] =>
      samples[0]!.planogram.slots.map((s, i) => {
        const byCamera = new Map<string, { sku: Float32Array; count: Float32Array; n: number }>();
        samples.forEach((sample, si) => {
          sample.index.forEach((x, j) => {
            if (x.slot !== i) return;
            const r = offsets[first + si]! + j;
            const acc = byCamera.get(x.cameraId) ??
              { sku: new Float32Array(k), count: new Float32Array(c), n: 0 };
            for (let q = 0; q < k; q++) acc.sku[q]! += p.sku[r * k + q]!;
            for (let q = 0; q < c; q++) acc.count[q]! += p.count[r * c + q]!;
            acc.n++;
            byCamera.set(x.cameraId, acc);
          });
        });
        return {
          shelf: s.shelf,
          slot: s.slot,
          sku: s.sku,
          views: [...byCamera].map(([cameraId, v]) => ({
            cameraId,
            sku: v.sku.map((x) => x / v.n),
            count: v.count.map((x) => x / v.n),
          })),
        };
      });
    return decideCart(evidence(before, 0), evidence(after, before.length), {
      labels: model.manifest.labels,
      threshold: this.#o.threshold ?? 0.8,
      modelVersion: version,
    });
  }
}
