/**
 * Shadow comparison: a candidate model, run beside the live one on the same sessions (see
 * `session_completed.candidate`), scored against reviewed truth (the cart a person confirmed or
 * corrected) and against the live model, and the verdict of the promotion policy: once at least
 * `minReviewed` reviewed sessions were decided by both, the candidate is promoted when it is at
 * least as good as the live model on them (no more wrong charges, no fewer right charges), and
 * stopped, with the reason, when it is worse.
 *
 * A model "charges" a session it decides without review; a charge is right when its cart is the
 * truth, wrong otherwise. Sessions without reviewed truth count only for the agreement of the two
 * models and the inference cost.
 *
 * @example
 * ```ts
 * import { compareShadow } from "./shadow_comparison.ts";
 *
 * const c = compareShadow([], { candidate: "2.0.0", minReviewed: 20 });
 * console.log(c.verdict.state); // "collecting"
 * ```
 *
 * @module
 */
import type { FieldSample } from "./field_samples.ts";

type Cart = readonly { readonly sku: string; readonly qty: number }[];

/** One session decided by both models, with its reviewed truth if a person gave one. */
export interface ShadowSession {
  readonly sample: FieldSample;
  /** The cart a person confirmed or corrected (null: not reviewed). */
  readonly truth: Cart | null;
}

/** How one model did on the compared sessions. */
export interface ModelScore {
  /** Model versions seen (the live model may change during the comparison). */
  readonly versions: readonly string[];
  /** Reviewed sessions it charged with the true cart. */
  readonly rightCharges: number;
  /** Reviewed sessions it charged with another cart. */
  readonly wrongCharges: number;
  /** Reviewed sessions whose cart it had exactly (charged or not). */
  readonly exact: number;
  /** Share of all compared sessions it sent to review. */
  readonly reviewRate: number;
  /** Mean inference time on a session's crops, ms (null: no session). */
  readonly meanMs: number | null;
}

/** What the promotion policy decided. */
export interface ShadowVerdict {
  readonly state: "collecting" | "promote" | "stop";
  readonly reason: string;
}

/** A candidate model compared with the live one. */
export interface ShadowComparison {
  readonly candidate: string;
  /** Sessions decided by both. */
  readonly sessions: number;
  /** Of them, with reviewed truth. */
  readonly reviewed: number;
  /** Reviewed sessions needed for a verdict. */
  readonly minReviewed: number;
  /** Share of sessions where both models gave the same cart (null: no session). */
  readonly agreement: number | null;
  readonly live: ModelScore;
  readonly candidateScore: ModelScore;
  readonly verdict: ShadowVerdict;
}

/** Options of {@link compareShadow}. */
export interface CompareShadowOptions {
  /** The candidate model's version: sessions the device decided with another are left out. */
  readonly candidate: string;
  /** Reviewed sessions needed for a verdict (at least 1). */
  readonly minReviewed: number;
}

/** Whether two carts are the same (order aside, zero lines ignored). */
export function sameCart(a: Cart, b: Cart): boolean {
  const key = (c: Cart) =>
    c.filter((l) => l.qty > 0).map((l) => `${l.sku}:${l.qty}`).sort().join(",");
  return key(a) === key(b);
}

interface Tally {
  versions: Set<string>;
  right: number;
  wrong: number;
  exact: number;
  reviews: number;
  ms: number;
  timed: number;
}

function tally(): Tally {
  return { versions: new Set(), right: 0, wrong: 0, exact: 0, reviews: 0, ms: 0, timed: 0 };
}

function count(t: Tally, d: { cart: Cart; review: boolean; ms: number }, truth: Cart | null) {
  if (d.review) t.reviews++;
  t.ms += d.ms;
  t.timed++;
  if (!truth) return;
  const exact = sameCart(d.cart, truth);
  if (exact) t.exact++;
  if (!d.review) exact ? t.right++ : t.wrong++;
}

function score(t: Tally, sessions: number): ModelScore {
  return {
    versions: [...t.versions].sort(),
    rightCharges: t.right,
    wrongCharges: t.wrong,
    exact: t.exact,
    reviewRate: sessions ? t.reviews / sessions : 0,
    meanMs: t.timed ? t.ms / t.timed : null,
  };
}

/** Scores a candidate against the live model on the sessions both decided. */
export function compareShadow(
  sessions: Iterable<ShadowSession>,
  options: CompareShadowOptions,
): ShadowComparison {
  const { candidate, minReviewed } = options;
  if (!Number.isInteger(minReviewed) || minReviewed < 1) {
    throw new RangeError(`Cannot decide over ${minReviewed} reviewed sessions: an integer ≥ 1`);
  }
  const live = tally();
  const cand = tally();
  let n = 0;
  let reviewed = 0;
  let agree = 0;
  for (const { sample, truth } of sessions) {
    const c = sample.candidate;
    if (!c || c.modelVersion !== candidate || !sample.decision) continue;
    n++;
    if (truth) reviewed++;
    live.versions.add(sample.modelVersion ?? "none");
    cand.versions.add(c.modelVersion);
    const liveCart = sample.decision.cart;
    if (sameCart(liveCart, c.cart)) agree++;
    count(live, {
      cart: liveCart,
      review: sample.decision.reviewReasons.length > 0,
      ms: c.liveMs,
    }, truth);
    count(cand, { cart: c.cart, review: c.review.required, ms: c.candidateMs }, truth);
  }
  const l = score(live, n);
  const k = score(cand, n);
  return {
    candidate,
    sessions: n,
    reviewed,
    minReviewed,
    agreement: n ? agree / n : null,
    live: l,
    candidateScore: k,
    verdict: verdict(l, k, { reviewed, minReviewed }),
  };
}

function verdict(
  live: ModelScore,
  cand: ModelScore,
  { reviewed, minReviewed }: { reviewed: number; minReviewed: number },
): ShadowVerdict {
  if (reviewed < minReviewed) {
    return {
      state: "collecting",
      reason: `${reviewed} of ${minReviewed} reviewed sessions decided by both models`,
    };
  }
  const over = `over ${reviewed} reviewed sessions`;
  if (cand.wrongCharges > live.wrongCharges) {
    return {
      state: "stop",
      reason:
        `the candidate would have charged ${cand.wrongCharges} wrong carts, the live model ${live.wrongCharges}, ${over}`,
    };
  }
  if (cand.rightCharges < live.rightCharges) {
    return {
      state: "stop",
      reason:
        `the candidate would have charged ${cand.rightCharges} right carts, the live model ${live.rightCharges}, ${over}`,
    };
  }
  return {
    state: "promote",
    reason:
      `the candidate charged ${cand.rightCharges} right and ${cand.wrongCharges} wrong carts, the live model ${live.rightCharges} and ${live.wrongCharges}, ${over}`,
  };
}
