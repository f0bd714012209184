/**
 * The accuracy gate's runner: door sessions of synthetic scenarios (seeds training never saw),
 * filmed by the renderer, go through the device's own {@link SessionRecognizer} with a slot model,
 * and each decided cart is compared with the scenario's ground truth. Counts exact matches, carts
 * sent to review, and wrong carts that were not (the costly kind: a wrong charge). With `events`,
 * the session is filmed while the door is open too, and the take/return events the recognizer
 * reports are compared with the truth's (same kinds, SKUs and slots in the same order, each within
 * {@link EVENT_TOLERANCE_MS} of when it happened).
 *
 * @example
 * ```ts
 * import { referenceKernels } from "../wasm/mod.ts";
 * import type { SlotModel } from "../pipeline/mod.ts";
 * import { evaluateSessions } from "./session_eval.ts";
 *
 * declare const model: SlotModel;
 * const r = await evaluateSessions(model, [1000001, 1000002], { kernels: referenceKernels, hard: false });
 * console.log(r.exactMatch, r.reviewRate);
 * ```
 *
 * @module
 */
import {
  applyWorld,
  type CartDecision,
  createFrame,
  createFrameSet,
  type Frame,
  randomScenario,
  renderView,
  scenarioTruth,
  SessionRecognizer,
  simulatedPlanogram,
  type SlotModel,
  type WorldConditions,
} from "../pipeline/mod.ts";
import type { PixelKernels } from "../wasm/mod.ts";
import { type Catalogue, catalogueProducts, DEFAULT_CATALOGUE } from "./catalogue.ts";

/** Options of {@link evaluateSessions}. */
export interface EvaluateSessionsOptions {
  readonly kernels: PixelKernels;
  /** Occlusion, lighting changes and more noise. */
  readonly hard: boolean;
  /**
   * The conditions of a world harder than the training set (pipeline/world_conditions.ts),
   * drawn per seed; the cabinet is calibrated as installed, without them. Default none.
   */
  readonly world?: WorldConditions;
  /** `false`: the recognizer does not follow cameras moved or lit otherwise since calibration. */
  readonly registration?: false;
  /** Door sessions per scenario. Default 1. */
  readonly sessions?: number;
  /** A camera whose frames never arrive (a dead camera). */
  readonly dropCamera?: string;
  /** Review threshold. Default the recognizer's. */
  readonly threshold?: number;
  /** Frame size. Default 640x480. */
  readonly frame?: { readonly width: number; readonly height: number };
  /** Film the open door every `sampleEveryMs` and check the take/return events. Default false. */
  readonly events?: boolean;
  readonly catalogue?: Catalogue;
  /** Told after each scenario. */
  readonly onProgress?: (done: number, total: number) => void;
}

/** One session's outcome. */
export interface SessionOutcome {
  readonly seed: number;
  readonly sessionId: string;
  readonly truth: string;
  readonly decided: string;
  readonly exact: boolean;
  readonly review: boolean;
  readonly confidence: number;
  readonly reasons: readonly string[];
  /** The truth's and the decided take/return events as text (with `events`). */
  readonly truthEvents?: string;
  readonly decidedEvents?: string;
  /** The decided events equal the truth's (with `events`). */
  readonly eventsExact?: boolean;
}

/** The outcome of a scenario suite. */
export interface SessionEvaluation {
  readonly sessions: number;
  /** Share of sessions whose decided cart equals the truth (reviewed ones count as not). */
  readonly exactMatch: number;
  /** Share sent to review. */
  readonly reviewRate: number;
  /** Share charged with a wrong cart (not exact and not sent to review). */
  readonly wrongCharged: number;
  /** Share of sessions whose take/return events equal the truth's (with `events`). */
  readonly eventMatch?: number;
  readonly outcomes: readonly SessionOutcome[];
}

/** How far a decided event's time may be from the truth's, ms. */
export const EVENT_TOLERANCE_MS = 700;

/** Events as text: `take COLA-330@0/1 return COLA-330@0/1`, or `(none)`. */
export const eventsText = (
  events: Iterable<{ kind: string; sku: string; shelf: number; slot: number }>,
): string =>
  [...events].map((e) => `${e.kind} ${e.sku}@${e.shelf}/${e.slot}`).join(" ") || "(none)";

/** A cart as text for comparing and reporting: `1xCOLA-330 2xGUM-14`, or `(nothing)`. */
export const cartText = (lines: Iterable<readonly [string, number]>): string =>
  [...lines].filter(([, q]) => q > 0).sort(([a], [b]) => a.localeCompare(b)).map(([s, q]) =>
    `${q}x${s}`
  ).join(" ") || "(nothing)";

/** Runs the door sessions of `seeds`' scenarios through a recognizer with `model`. */
export async function evaluateSessions(
  model: SlotModel,
  seeds: readonly number[],
  options: EvaluateSessionsOptions,
): Promise<SessionEvaluation> {
  const { width, height } = options.frame ?? { width: 640, height: 480 };
  const products = catalogueProducts(options.catalogue ?? DEFAULT_CATALOGUE);
  const outcomes: SessionOutcome[] = [];
  for (const [i, seed] of seeds.entries()) {
    const installed = randomScenario(seed, {
      hard: options.hard,
      products,
      sessions: options.sessions ?? 1,
    });
    const scenario = options.world ? applyWorld(installed, options.world) : installed;
    const truth = scenarioTruth(scenario);
    const recognizer = new SessionRecognizer(model, simulatedPlanogram(installed), {
      kernels: options.kernels,
      ...(options.threshold !== undefined ? { threshold: options.threshold } : {}),
      ...(options.registration === false ? { registration: false as const } : {}),
    });
    const film = (t: number, world = scenario) => {
      const frames = new Map<string, Frame>();
      const missing: string[] = [];
      for (const cam of world.cameras) {
        if (cam.cameraId === options.dropCamera) {
          missing.push(cam.cameraId);
          continue;
        }
        frames.set(
          cam.cameraId,
          createFrame({
            cameraId: cam.cameraId,
            deviceId: cam.deviceId,
            seq: Math.round(t / 250),
            ts: t,
            width,
            height,
            format: "rgba",
            data: renderView(world, cam.cameraId, t, { width, height }),
          }),
        );
      }
      return createFrameSet(t, frames, missing);
    };
    // The cabinet as installed is each camera's reference (the world may knock one since).
    {
      using set = film(0, installed);
      recognizer.calibrate(set);
    }
    for (const [n, s] of scenario.sessions.entries()) {
      // The moments the decision uses: the second before the door opens, the second after it
      // closes (and, for the events, the open door).
      const observe = (t: number) => {
        using set = film(t);
        recognizer.observe(set);
      };
      for (let t = s.openAt - 1000; t < s.openAt; t += 250) observe(t);
      recognizer.open({ sessionId: s.id, openedAt: s.openAt });
      if (options.events) { for (let t = s.openAt; t <= s.closeAt; t += 150) observe(t); }
      const deciding = recognizer.decide({
        sessionId: s.id,
        openedAt: s.openAt,
        closedAt: s.closeAt,
      });
      for (let t = s.closeAt; t <= s.closeAt + 1000; t += 250) observe(t);
      const d: CartDecision = await deciding;
      const want = cartText(truth.carts[n]!.entries());
      const got = cartText(d.cart.map((l) => [l.sku, l.qty] as const));
      const review = d.reviewReasons.length > 0;
      let events = {};
      if (options.events) {
        const truthEvents = truth.events.filter((e) =>
          e.sessionId === s.id && (e.type === "item_taken" || e.type === "item_returned")
        ).map((e) => ({ ...e, kind: e.type === "item_taken" ? "take" : "return" })) as Array<
          { kind: string; sku: string; shelf: number; slot: number; at: number }
        >;
        const decided = d.events ?? [];
        events = {
          truthEvents: eventsText(truthEvents),
          decidedEvents: eventsText(decided),
          eventsExact: eventsText(truthEvents) === eventsText(decided) &&
            decided.every((e, i) => Math.abs(e.at - truthEvents[i]!.at) <= EVENT_TOLERANCE_MS),
        };
      }
      outcomes.push({
        ...events,
        seed,
        sessionId: s.id,
        truth: want,
        decided: got,
        exact: !review && want === got,
        review,
        confidence: d.confidence,
        reasons: d.reviewReasons,
      });
    }
    options.onProgress?.(i + 1, seeds.length);
  }
  const n = outcomes.length;
  return {
    sessions: n,
    exactMatch: outcomes.filter((o) => o.exact).length / n,
    reviewRate: outcomes.filter((o) => o.review).length / n,
    wrongCharged: outcomes.filter((o) => !o.exact && !o.review).length / n,
    ...(options.events ? { eventMatch: outcomes.filter((o) => o.eventsExact).length / n } : {}),
    outcomes,
  };
}
