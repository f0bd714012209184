/**
 * Session understanding on the device: watches the machine's frame sets and keeps slot crops of
 * every camera (sampled, not every frame). When told that the door opened, it classifies the
 * crops of the session in the background as they come (in batches, one model call at a time, the
 * crops dropped once classified), so that when the door closes only the pictures after it are
 * left to classify. It decides the cart from the shelves just before the door opened and just
 * after it closed (see `cart_decision.ts`) and, with a model that sees hands, the take and return
 * events in between (see `session_events.ts`). A frame set with a camera missing gives fewer views
 * of its slots (lower confidence), not a failure; no picture before or after the session sends it
 * to review. A candidate model (shadow evaluation) runs on the same crops after the live one and
 * decides each session too; its decision and both models' inference time go with the live
 * decision, and a candidate that fails never fails the live decision.
 *
 * @example
 * ```ts
 * import { referenceKernels } from "../wasm/mod.ts";
 * import { SessionRecognizer } from "./session_recognizer.ts";
 * import type { SlotClassifier, SlotProbabilities } from "./slot_classifier.ts";
 * import type { Planogram } from "./planogram.ts";
 *
 * declare const model: SlotClassifier;
 * declare const planogram: Planogram;
 * const recognizer = new SessionRecognizer(model, planogram, { kernels: referenceKernels });
 * // recognizer.observe(frameSet) for every frame set; when the door opens:
 * recognizer.open({ sessionId: "s1", openedAt: 1000 });
 * // ... and when it closes:
 * const d = await recognizer.decide({ sessionId: "s1", openedAt: 1000, closedAt: 9000 });
 * console.log(d.cart, d.events, d.reviewReasons);
 * ```
 *
 * @module
 */
import type { PixelKernels, RgbaImage } from "../wasm/mod.ts";
import { type CartDecision, decideCart, type SlotEvidence } from "./cart_decision.ts";
import { detectEvents, type SessionMoment } from "./session_events.ts";
import type { FrameSet } from "./frame_set.ts";
import type { Frame } from "./frame.ts";
import {
  type CameraMotion,
  CameraRegistration,
  type CameraRegistrationOptions,
  underLight,
} from "./camera_registration.ts";
import type { Planogram, Region } from "./planogram.ts";
import type { SlotClassifier, SlotProbabilities } from "./slot_classifier.ts";
import { slotCrops } from "./slot_crops.ts";
import { type MomentInput, type SessionEvidence, sessionEvidence } from "./session_evidence.ts";
import type { Triple } from "../wasm/mod.ts";
import { type CandidateCart, inputMismatch } from "./candidate_cart.ts";

/** How long after a new planogram a camera's new reference picture is taken, ms (frame clock). */
export const RESTOCK_SETTLE_MS = 1500;

/** A recognizer's decision: the cart decision with the session's evidence. */
export interface RecognizedCart extends CartDecision {
  /** What each slot showed before and after, and where it was cut. */
  readonly evidence?: SessionEvidence;
  /** The candidate model's decision of the same session (shadow evaluation), if one runs. */
  readonly candidate?: CandidateCart;
}

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
  /** Samples classified per model call while the door is open. Default 4. */
  readonly batchSamples?: number;
  /** Samples kept while the door is open (older ones of the session are dropped). Default 4000. */
  readonly maxSessionSamples?: number;
  /**
   * Called when classifying in the background (while the door is open) fails; the decision
   * classifies those pictures again (and fails, with the error, if it cannot either).
   */
  readonly onError?: (error: Error) => void;
  /**
   * Follows cameras knocked off their calibration and lit otherwise: each camera's picture with
   * the door shut {@link RESTOCK_SETTLE_MS} after the planogram in use came (the first, or a new
   * one: a restock) is its reference (or the one {@link SessionRecognizer.calibrate} gives); its
   * motion and light are measured in each later picture taken with the door shut, and its slots'
   * crops follow them. `false`: the crops stay as calibrated. Default on.
   */
  readonly registration?: false | CameraRegistrationOptions;
}

interface Sample {
  readonly ts: number;
  /** Which slot and camera each crop is. */
  readonly index: readonly { slot: number; cameraId: string; region: Region }[];
  /** Per camera, the light's gain the crops were normalised for. */
  readonly gain: Readonly<Record<string, Triple>>;
  /** The crops, until every model in use classified them. */
  crops: Float32Array | undefined;
  /** Each model's output, once classified, and its share of the model call's time (ms). */
  readonly outputs: Map<SlotModel, { readonly p: SlotProbabilities; readonly ms: number }>;
  /** The planogram the crops were cut by. */
  readonly planogram: Planogram;
}

/** Decides door sessions' carts from the frame sets it observes. */
export class SessionRecognizer {
  #model: SlotModel;
  #candidate: SlotModel | undefined;
  readonly #planogram: Planogram | (() => Planogram);
  readonly #o: SessionRecognizerOptions;
  #samples: Sample[] = [];
  #waiting: { after: number; wake: () => void } | undefined;
  #open:
    | {
      readonly sessionId: string;
      readonly openedAt: number;
      /** The planogram in force when the door opened: the session is decided by it. */
      readonly planogram: Planogram;
      trimmed: boolean;
    }
    | undefined;
  /** Model calls, one at a time. */
  #queue: Promise<unknown> = Promise.resolve();
  readonly #registration: CameraRegistration | undefined;
  /** The planogram each camera's reference was taken under (a new one: the shelves restocked). */
  readonly #referencedBy = new Map<string, Planogram>();
  /** The planogram in use and when it was first seen (frame clock). */
  #planogramSeen: { readonly planogram: Planogram; readonly ts: number } | undefined;
  #pending = false;

  /** Creates the recognizer. */
  constructor(
    model: SlotModel,
    planogram: Planogram | (() => Planogram),
    options: SessionRecognizerOptions,
  ) {
    this.#model = model;
    this.#planogram = planogram;
    this.#o = options;
    this.#registration = options.registration === false
      ? undefined
      : new CameraRegistration(options.registration ?? {});
  }

  /**
   * Takes `set`'s pictures as the cameras' references: the cabinet as it was calibrated (by
   * default each camera's first picture is).
   */
  calibrate(set: FrameSet): void {
    this.#planogramSeen = { planogram: this.#currentPlanogram(), ts: set.ts };
    for (const [cameraId, frame] of set.frames) {
      this.#registration?.reference(cameraId, this.#rgba(frame));
      this.#referencedBy.set(cameraId, this.#currentPlanogram());
    }
  }

  /** Each camera's motion since calibration, as last measured. */
  cameraMotion(cameraId: string): CameraMotion | undefined {
    return this.#registration?.motion(cameraId);
  }

  #rgba(frame: Frame): RgbaImage {
    return frame.format === "rgba"
      ? { data: frame.data, width: frame.width, height: frame.height }
      : this.#o.kernels.i420ToRgba({ data: frame.data, width: frame.width, height: frame.height });
  }

  /** The model in use. */
  get model(): SlotModel {
    return this.#model;
  }

  #currentPlanogram(): Planogram {
    return typeof this.#planogram === "function" ? this.#planogram() : this.#planogram;
  }

  /**
   * Uses another model from now on (a model update applied without a restart). Pictures the old
   * model already classified are not used by a decision of the new one.
   */
  useModel(model: SlotModel): void {
    this.#model = model;
    if (this.#candidate === model) this.#candidate = undefined;
  }

  /** The candidate model in shadow evaluation, if one runs. */
  get candidate(): SlotModel | undefined {
    return this.#candidate;
  }

  /**
   * Runs `model` beside the live one from now on (undefined: none); it must take the same crops,
   * else a `RangeError` says why.
   */
  useCandidate(model: SlotModel | undefined): void {
    const why = model && inputMismatch(this.#model.manifest, model.manifest);
    if (why) throw new RangeError(`Cannot run the candidate model beside the live one: ${why}`);
    this.#candidate = model;
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
    const index: Array<{ slot: number; cameraId: string; region: Region }> = [];
    const gains: Record<string, Triple> = {};
    const parts: Float32Array[] = [];
    const registration = this.#registration;
    if (this.#planogramSeen?.planogram !== planogram) {
      this.#planogramSeen = { planogram, ts: set.ts };
    }
    for (const [cameraId, frame] of set.frames) {
      const image = this.#rgba(frame);
      if (registration && !this.#open) this.#register(registration, cameraId, image, set.ts);
      const slots = planogram.slots
        .map((s, i) => {
          const region = s.regions[cameraId];
          return {
            i,
            region: region && registration ? registration.follow(cameraId, region) : region,
          };
        })
        .filter((s) => s.region);
      if (slots.length === 0) continue;
      // Under another light than at calibration: the crops as that light would have shown them.
      const gain = registration?.motion(cameraId).gain ?? [1, 1, 1];
      gains[cameraId] = [gain[0] ?? 1, gain[1] ?? 1, gain[2] ?? 1];
      parts.push(slotCrops(image, slots.map((s) => s.region!), {
        kernels,
        size: input.size,
        ...underLight(input, gain),
      }));
      for (const s of slots) index.push({ slot: s.i, cameraId, region: s.region! });
    }
    const crops = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      crops.set(p, at);
      at += p.length;
    }
    this.#samples.push({ ts: set.ts, index, gain: gains, crops, outputs: new Map(), planogram });
    this.#prune();
    const open = this.#open;
    if (open && set.ts >= open.openedAt) {
      const waiting = this.#samples.filter((s) => s.ts >= open.openedAt && s.crops).length;
      if (waiting >= (this.#o.batchSamples ?? 4)) this.#classifyInBackground();
    }
    if (this.#waiting && set.ts >= this.#waiting.after) this.#waiting.wake();
  }

  /**
   * A camera's reference is its first picture taken {@link RESTOCK_SETTLE_MS} or more after the
   * planogram in use came (the first one, or a new one: the shelves restocked look otherwise, and
   * pictures of the old shelves may still be on their way); with the door shut nothing hides the
   * shelves, so each later picture is measured against it. Without a reference the crops stay as
   * calibrated.
   */
  #register(registration: CameraRegistration, cameraId: string, image: RgbaImage, ts: number) {
    const seen = this.#planogramSeen!;
    const by = this.#referencedBy.get(cameraId);
    if (by === seen.planogram) {
      registration.measure(cameraId, image);
    } else if (ts - seen.ts >= RESTOCK_SETTLE_MS) {
      registration.reference(cameraId, image);
      this.#referencedBy.set(cameraId, seen.planogram);
    } else registration.forget(cameraId);
  }

  /** Keeps what a decision can still need. */
  #prune(): void {
    const want = this.#o.samples ?? 3;
    const open = this.#open;
    if (!open) {
      // The door is closed: only the last pictures (the "before" of the next session).
      if (this.#samples.length > want + 4) this.#samples.splice(0, this.#samples.length - want - 4);
      return;
    }
    const maxAge = this.#o.maxAgeMs ?? 5000;
    const old = this.#samples.findIndex((s) => s.ts >= open.openedAt - maxAge);
    if (old > 0) this.#samples.splice(0, old);
    const during = this.#samples.filter((s) => s.ts >= open.openedAt);
    const max = this.#o.maxSessionSamples ?? 4000;
    if (during.length > max) {
      // A door held open very long: the oldest pictures of the session go (the decision says so).
      this.#samples.splice(this.#samples.indexOf(during[0]!), 1);
      open.trimmed = true;
    }
  }

  /**
   * The door opened at `openedAt` (frame clock): keep the session's pictures and classify them in
   * the background as they come.
   */
  open(session: { readonly sessionId: string; readonly openedAt: number }): void {
    this.#open = {
      sessionId: session.sessionId,
      openedAt: session.openedAt,
      planogram: this.#currentPlanogram(),
      trimmed: false,
    };
    this.#classifyInBackground();
  }

  #classifyInBackground(): void {
    if (this.#pending) return;
    this.#pending = true;
    this.#queue = this.#queue.then(async () => {
      this.#pending = false;
      const open = this.#open;
      if (!open) return;
      const want = this.#o.samples ?? 3;
      const before = this.#samples.filter((s) => s.ts < open.openedAt).slice(-want);
      const during = this.#samples.filter((s) => s.ts >= open.openedAt);
      await this.#classify([...before, ...during]);
    }).catch((e) => {
      // A failed background call leaves the pictures unclassified: the decision tries again.
      this.#o.onError?.(e as Error);
    });
  }

  /** Classifies the samples with the live model, then the candidate (whose failure is reported). */
  async #classify(samples: readonly Sample[]): Promise<void> {
    await this.#classifyWith(this.#model, samples);
    const candidate = this.#candidate;
    if (!candidate) return;
    await this.#classifyWith(candidate, samples).catch((cause) => {
      // A candidate that fails is stopped (it would cost every session for nothing).
      if (this.#candidate === candidate) this.#candidate = undefined;
      const name = `${candidate.manifest.name} ${candidate.manifest.version}`;
      this.#o.onError?.(
        new Error(`The candidate model ${name} failed and was stopped: ${cause}`, { cause }),
      );
    });
  }

  /** Classifies with `model` the samples that have crops and no output of it. */
  async #classifyWith(model: SlotModel, samples: readonly Sample[]): Promise<void> {
    const todo = samples.filter((s) => s.crops && s.crops.length > 0 && !s.outputs.has(model));
    const size = model.manifest.input.size;
    const usable = todo.filter((s) => s.crops!.length === s.index.length * 3 * size * size);
    if (usable.length === 0) return;
    const n = usable.reduce((sum, x) => sum + x.index.length, 0);
    const batch = new Float32Array(usable.reduce((sum, x) => sum + x.crops!.length, 0));
    let at = 0;
    for (const x of usable) {
      batch.set(x.crops!, at);
      at += x.crops!.length;
    }
    const started = performance.now();
    const p = await model.classify(batch, n);
    const ms = performance.now() - started;
    const k = model.manifest.labels.length;
    const c = model.manifest.maxCount + 1;
    let row = 0;
    for (const x of usable) {
      const m = x.index.length;
      x.outputs.set(model, {
        p: {
          n: m,
          sku: p.sku.slice(row * k, (row + m) * k),
          count: p.count.slice(row * c, (row + m) * c),
          ...(p.hand ? { hand: p.hand.slice(row * (k + 1), (row + m) * (k + 1)) } : {}),
        },
        ms: (ms * m) / n,
      });
      const candidate = this.#candidate;
      if (x.outputs.has(this.#model) && (!candidate || x.outputs.has(candidate))) {
        x.crops = undefined;
      }
      row += m;
    }
  }

  /** Decides the cart of the session that ran from `openedAt` to `closedAt` (frame clock). */
  async decide(
    session: { readonly sessionId: string; readonly openedAt: number; readonly closedAt: number },
    options: { readonly signal?: AbortSignal } = {},
  ): Promise<RecognizedCart> {
    if (this.#open?.sessionId !== session.sessionId) {
      // Not told when the door opened (or told of another session): what is kept is used.
      this.#open = {
        sessionId: session.sessionId,
        openedAt: session.openedAt,
        planogram: this.#currentPlanogram(),
        trimmed: false,
      };
    }
    const open = this.#open;
    try {
      return await this.#decide(session, open, options.signal);
    } finally {
      if (this.#open === open) this.#open = undefined;
      this.#prune();
    }
  }

  async #decide(
    session: { readonly sessionId: string; readonly openedAt: number; readonly closedAt: number },
    { trimmed, planogram }: { readonly trimmed: boolean; readonly planogram: Planogram },
    signal: AbortSignal | undefined,
  ): Promise<RecognizedCart> {
    const model = this.#model;
    const settle = session.closedAt + (this.#o.settleMs ?? 400);
    const want = this.#o.samples ?? 3;
    const afterCount = () => this.#samples.filter((s) => s.ts >= settle).length;
    if (afterCount() < want) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal?.removeEventListener("abort", done);
          this.#waiting = undefined;
          resolve();
        };
        const timer = setTimeout(done, this.#o.waitMs ?? 2000);
        signal?.addEventListener("abort", done, { once: true });
        this.#waiting = { after: settle, wake: () => afterCount() >= want && done() };
      });
    }
    const maxAge = this.#o.maxAgeMs ?? 5000;
    const before = this.#samples.filter((s) =>
      s.ts < session.openedAt && s.ts >= session.openedAt - maxAge
    ).slice(-want);
    const after = this.#samples.filter((s) => s.ts >= settle).slice(0, want);
    const during = this.#samples.filter((s) =>
      s.ts >= session.openedAt && s.ts <= session.closedAt
    );
    // Whatever the background has not done yet, in one call (it waits for a running one).
    const last = this.#queue.then(() => this.#classify([...before, ...during, ...after]));
    // The failure is this decision's (awaited below); the queue itself goes on for the next.
    this.#queue = last.catch(() => {});
    await last;
    const picked = { before, during, after, planogram, trimmed };
    const live = this.#decision(model, picked);
    const candidate = this.#candidate;
    if (!candidate || candidate === model || !live.evidence) return live;
    const theirs = this.#decision(candidate, picked);
    if (!theirs.evidence) return live; // the candidate came during the session: not comparable
    const cost = (m: SlotModel) =>
      [...before, ...during, ...after].reduce((t, x) => t + (x.outputs.get(m)?.ms ?? 0), 0);
    const { evidence: _, ...decision } = theirs;
    const round = (ms: number) => Math.round(ms * 10) / 10;
    return {
      ...live,
      candidate: { decision, liveMs: round(cost(model)), candidateMs: round(cost(candidate)) },
    };
  }

  /** `model`'s decision of the session from the pictures picked for it. */
  #decision(
    model: SlotModel,
    picked: {
      readonly before: readonly Sample[];
      readonly during: readonly Sample[];
      readonly after: readonly Sample[];
      readonly planogram: Planogram;
      readonly trimmed: boolean;
    },
  ): RecognizedCart {
    const { planogram } = picked;
    // This model's outputs, of pictures cut by a planogram of the same slots.
    const mine = (xs: readonly Sample[]) =>
      xs.filter((s) => s.outputs.has(model) && s.planogram.slots.length === planogram.slots.length);
    const before = mine(picked.before);
    const after = mine(picked.after);
    const version = model.manifest.version;
    const missing = [
      ...(before.length ? [] : ["no picture of the shelves before the door opened"]),
      ...(after.length ? [] : ["no picture of the shelves after the door closed"]),
    ];
    if (missing.length > 0) {
      return { cart: [], confidence: 0, reviewReasons: missing, modelVersion: version };
    }
    const labels = model.manifest.labels;
    const beforeEvidence = evidence(model, before, planogram);
    const afterEvidence = evidence(model, after, planogram);
    const decided = decideCart(beforeEvidence, afterEvidence, {
      labels,
      threshold: this.#o.threshold ?? 0.8,
      modelVersion: version,
    });
    // Where the crops of the last picture before and the first after were cut: a dataset
    // builder cuts them again from the session's clips.
    const moment = (s: Sample, e: MomentInput["evidence"]): MomentInput => ({
      ts: s.ts,
      gain: s.gain,
      evidence: e,
      regions: planogram.slots.map((_, i) =>
        Object.fromEntries(s.index.filter((x) => x.slot === i).map((x) => [x.cameraId, x.region]))
      ),
    });
    const decision: RecognizedCart = {
      ...decided,
      evidence: sessionEvidence(
        moment(before.at(-1)!, beforeEvidence),
        moment(after[0]!, afterEvidence),
        { labels, planogramVersion: planogram.version ?? null },
      ),
    };
    if (!model.manifest.outputs.hand) return decision;
    const moments: SessionMoment[] = mine(picked.during).map((s) => ({
      ts: s.ts,
      slots: evidence(model, [s], planogram),
    }));
    const events = detectEvents(beforeEvidence, afterEvidence, { labels, during: moments });
    const reasons = [...decision.reviewReasons];
    if (picked.trimmed) reasons.push("the door was open longer than the recognizer keeps pictures");
    return { ...decision, events, reviewReasons: reasons.slice(0, 20) };
  }
}

/**
 * Per slot and camera: the mean over the samples (noise averages out, the camera's own view stays
 * one piece of evidence); the cameras are pooled by the decision. The SKUs are `planogram`'s; the
 * samples were cut by planograms of its slots in its order (a new planogram changes SKUs only).
 */
function evidence(
  model: SlotModel,
  samples: readonly Sample[],
  planogram: Planogram,
): SlotEvidence[] {
  const k = model.manifest.labels.length;
  return planogram.slots.map((s, i) => {
    const byCamera = new Map<
      string,
      { sku: Float32Array; count: Float32Array; hand: Float32Array | undefined; n: number }
    >();
    for (const sample of samples) {
      const p = sample.outputs.get(model)!.p;
      const c = p.count.length / p.n;
      sample.index.forEach((x, r) => {
        if (x.slot !== i) return;
        const acc = byCamera.get(x.cameraId) ?? {
          sku: new Float32Array(k),
          count: new Float32Array(c),
          hand: p.hand ? new Float32Array(k + 1) : undefined,
          n: 0,
        };
        for (let q = 0; q < k; q++) acc.sku[q]! += p.sku[r * k + q]!;
        for (let q = 0; q < c; q++) acc.count[q]! += p.count[r * c + q]!;
        if (acc.hand && p.hand) {
          for (let q = 0; q <= k; q++) acc.hand[q]! += p.hand[r * (k + 1) + q]!;
        }
        acc.n++;
        byCamera.set(x.cameraId, acc);
      });
    }
    return {
      shelf: s.shelf,
      slot: s.slot,
      sku: s.sku,
      views: [...byCamera].map(([cameraId, v]) => ({
        cameraId,
        sku: v.sku.map((x) => x / v.n),
        count: v.count.map((x) => x / v.n),
        ...(v.hand ? { hand: v.hand.map((x) => x / v.n) } : {}),
      })),
    };
  });
}
