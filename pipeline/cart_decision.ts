/**
 * Deciding the cart of a door session from what the slot model saw of every slot before the door
 * opened and after it closed: per slot, the views of all cameras that see it are pooled (the
 * product of their probabilities, so cameras that agree make it surer and a missing camera only
 * makes it less sure), the unit counts before and after give what left each slot (with the
 * probability of that change as the slot's confidence), and the planogram gives the SKU. A slot
 * whose product is not the planogram's, a slot holding a SKU the model does not know (a product
 * newly stocked: every session goes to review until a model learns it, and it is never charged
 * as another SKU), more units of a SKU after than before, or a whole-cart confidence below the
 * threshold send the session to review with the reason: the cart is never guessed.
 *
 * @example
 * ```ts
 * import { decideCart } from "./cart_decision.ts";
 *
 * const view = (count: number) => ({
 *   cameraId: "cam-1",
 *   sku: Float32Array.of(0, 1),
 *   count: Float32Array.from([0, 1, 2], (c) => (c === count ? 0.98 : 0.01)),
 * });
 * const slot = { shelf: 0, slot: 0, sku: "COLA-330" };
 * const d = decideCart(
 *   [{ ...slot, views: [view(2)] }],
 *   [{ ...slot, views: [view(1)] }],
 *   { labels: ["empty", "COLA-330"] },
 * );
 * console.log(d.cart); // [{ sku: "COLA-330", qty: 1 }]
 * ```
 *
 * @module
 */

/** What one camera's view of a slot gave: SKU, unit count and (optionally) hand probabilities. */
export interface SlotView {
  readonly cameraId: string;
  readonly sku: Float32Array;
  readonly count: Float32Array;
  /** The hand head's output: no hand, then a hand holding each label. */
  readonly hand?: Float32Array;
}

/** A slot at one moment, with the planogram's SKU and every camera view of it. */
export interface SlotEvidence {
  readonly shelf: number;
  readonly slot: number;
  /** The planogram's SKU for the slot, or null for a slot left empty. */
  readonly sku: string | null;
  readonly views: readonly SlotView[];
}

/** A cart line. */
export interface CartLine {
  readonly sku: string;
  readonly qty: number;
}

/** A unit taken from or put back into a slot. */
export interface ItemEvent {
  readonly kind: "take" | "return";
  /** The planogram's SKU of the slot. */
  readonly sku: string;
  readonly shelf: number;
  readonly slot: number;
  /** When, on the frame clock: whole milliseconds. */
  readonly at: number;
  /** How sure the counts on both sides of the step are, 0..1. */
  readonly confidence: number;
  /** The camera that saw the hand best at that moment. */
  readonly cameraId: string;
}

/** What a door session's cart decision produces. */
export interface CartDecision {
  /** What was taken, net of returns. */
  readonly cart: CartLine[];
  /** Confidence in the whole cart, 0..1. */
  readonly confidence: number;
  /** Per cart line (SKU): how sure the change of its slots is, 0..1. */
  readonly lineConfidence?: Readonly<Record<string, number>>;
  /** Why the session needs a human, if it does (empty: charge the cart). */
  readonly reviewReasons: string[];
  /** Version of the model that decided. */
  readonly modelVersion: string;
  /** The takes and returns while the door was open (models with a hand head). */
  readonly events?: readonly ItemEvent[];
}

/** Options of {@link decideCart}. */
export interface DecideCartOptions {
  /** The model's SKU labels (index 0 is `empty`). */
  readonly labels: readonly string[];
  /** Below this whole-cart confidence the session goes to review. Default 0.8. */
  readonly threshold?: number;
  /** Written into the decision. Default "unknown". */
  readonly modelVersion?: string;
}

/** Pools views by the normalised product of their probabilities; uniform with no view. */
export function poolViews(views: readonly Float32Array[], classes: number): Float64Array {
  const log = new Float64Array(classes);
  for (const v of views) {
    if (v.length !== classes) {
      throw new RangeError(`Cannot pool a view of ${v.length} classes with ${classes}`);
    }
    for (let c = 0; c < classes; c++) log[c]! += Math.log(Math.max(v[c]!, 1e-6));
  }
  const max = Math.max(...log);
  let sum = 0;
  for (let c = 0; c < classes; c++) sum += log[c] = Math.exp(log[c]! - max);
  for (let c = 0; c < classes; c++) log[c]! /= sum;
  return log;
}

/** The most likely class of `p` and its probability. */
export function mostLikely(p: ArrayLike<number>): [number, number] {
  let b = 0;
  for (let i = 1; i < p.length; i++) if (p[i]! > p[b]!) b = i;
  return [b, p[b]!];
}

const key = (e: { shelf: number; slot: number }) => `${e.shelf}/${e.slot}`;

/**
 * A review reason's kind, for counting reasons: its decimal figures (confidences, thresholds)
 * written `#`, so `confidence 0.62 below 0.80` and `confidence 0.41 below 0.80` are one kind.
 */
export function reviewReasonKind(reason: string): string {
  return reason.replace(/\d+\.\d+/g, "#");
}

/** Decides the cart from the slots before the door opened and after it closed. */
export function decideCart(
  before: readonly SlotEvidence[],
  after: readonly SlotEvidence[],
  options: DecideCartOptions,
): CartDecision {
  const threshold = options.threshold ?? 0.8;
  const labels = options.labels;
  const reasons: string[] = [];
  // No slot has a SKU: the machine has no planogram yet (one reason says so, not one per slot).
  const noPlanogram = before.length > 0 && before.every((b) => b.sku === null);
  if (noPlanogram) reasons.push("the machine has no planogram: what its slots hold is not known");
  const afterBySlot = new Map(after.map((e) => [key(e), e]));
  const known = new Set(labels.slice(1));
  const net = new Map<string, number>();
  /** Per SKU that changed: the least sure of its slots' changes. */
  const sure = new Map<string, number>();
  let confidence = 1;
  for (const b of before) {
    const a = afterBySlot.get(key(b));
    const where = `slot ${key(b)}`;
    // A product the model has never seen: its units cannot be told from others' (review says).
    const unknown = b.sku !== null && !known.has(b.sku);
    if (unknown) {
      reasons.push(
        `${where} holds ${b.sku}, which model ${options.modelVersion ?? "unknown"} does not know`,
      );
    }
    if (!a) {
      reasons.push(`${where} was not seen after the door closed`);
      confidence = 0;
      continue;
    }
    if (b.views.length === 0 || a.views.length === 0) {
      reasons.push(`${where} was not seen by any camera ${b.views.length ? "after" : "before"}`);
    }
    const classes = b.views[0]?.count.length ?? a.views[0]?.count.length ?? 0;
    if (classes === 0) {
      confidence = 0;
      continue;
    }
    const pb = poolViews(b.views.map((v) => v.count), classes);
    const pa = poolViews(a.views.map((v) => v.count), classes);
    const [cb] = mostLikely(pb);
    const [ca] = mostLikely(pa);
    // What is decided is the change: its probability over every pair of counts that gives it.
    const change = cb - ca;
    let pChange = 0;
    for (let c = 0; c < classes; c++) {
      const c2 = c - change;
      if (c2 >= 0 && c2 < classes) pChange += pb[c]! * pa[c2]!;
    }
    confidence *= pChange;
    // The product in the slot must be the planogram's whenever units are there.
    for (const [moment, e, units] of [["before", b, cb], ["after", a, ca]] as const) {
      if (noPlanogram || unknown || units === 0 || e.views.length === 0) continue;
      const [s, ps] = mostLikely(poolViews(e.views.map((v) => v.sku), labels.length));
      const seen = labels[s];
      if (seen !== b.sku && ps > 0.5) {
        reasons.push(
          `${where} holds ${seen} ${moment} the session; the planogram says ${b.sku ?? "empty"}`,
        );
      }
    }
    if (cb !== ca) {
      if (!b.sku) {
        if (!noPlanogram) {
          reasons.push(`${where} is empty in the planogram but changed from ${cb} to ${ca} units`);
        }
        continue;
      }
      net.set(b.sku, (net.get(b.sku) ?? 0) + cb - ca);
      sure.set(b.sku, Math.min(sure.get(b.sku) ?? 1, pChange));
    }
  }
  const cart: CartLine[] = [];
  for (const [sku, qty] of [...net].sort(([x], [y]) => x.localeCompare(y))) {
    if (qty > 0) cart.push({ sku, qty });
    else if (qty < 0) reasons.push(`${-qty} more ${sku} after the session than before`);
  }
  // Products of probabilities can round past 1; probabilities that are not numbers (a broken
  // model) are no evidence at all.
  if (Number.isNaN(confidence)) {
    confidence = 0;
    reasons.push("the model's outputs are not numbers");
  }
  confidence = Math.min(1, Math.max(0, confidence));
  if (reasons.length === 0 && confidence < threshold) {
    reasons.push(`confidence ${confidence.toFixed(2)} below ${threshold.toFixed(2)}`);
  }
  // At most 20 reasons travel with the session event.
  const shown = reasons.length > 20
    ? [...reasons.slice(0, 19), `and ${reasons.length - 19} more reasons`]
    : reasons;
  return {
    cart,
    confidence,
    lineConfidence: Object.fromEntries(
      cart.map((l) => [l.sku, Math.min(1, Math.max(0, sure.get(l.sku) ?? 0))]),
    ),
    reviewReasons: shown,
    modelVersion: options.modelVersion ?? "unknown",
  };
}
