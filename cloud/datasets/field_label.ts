/**
 * A field sample's label: the cart that is known to have left the machine, and who knows it. A
 * person who reviewed the session (`reviewed`: the reviewer's cart, `corrected` when it is not
 * the device's), or the device itself when it charged its own cart at a confidence of at least
 * `minConfidence` and the customer did not dispute it (`confident`). Anything else is no label,
 * with the reason: still in review or charging, settled by the review policy (nobody looked),
 * disputed or refunded, not charged, a reviewed cart naming a SKU the catalogue does not have. A label is never
 * guessed.
 *
 * @example
 * ```ts
 * import { fieldLabel } from "./field_label.ts";
 * import type { PaymentSession } from "../../payments/mod.ts";
 *
 * declare const session: PaymentSession;
 * const l = fieldLabel(session, { minConfidence: 0.95, skus: new Set(["COLA-330"]) });
 * console.log("label" in l ? l.label.source : l.skip);
 * ```
 *
 * @module
 */
import type { PaymentSession } from "../../payments/mod.ts";
import { sameCart } from "./shadow_comparison.ts";

/** Who knows a label's cart. */
export type LabelSource = "reviewed" | "confident";

/** A sample's label. */
export interface FieldLabel {
  readonly source: LabelSource;
  /** What left the machine. */
  readonly cart: readonly { readonly sku: string; readonly qty: number }[];
  /** The reviewer (for `reviewed`). */
  readonly reviewer: string | null;
  /** The reviewer's cart is not the device's. */
  readonly corrected: boolean;
}

/** Why a sample has no label. */
export type SkipReason =
  | "not_decided"
  | "in_progress"
  | "policy_review"
  | "disputed"
  | "below_confidence"
  | "not_charged"
  | "refunded"
  | "unknown_sku";

/** Every {@link SkipReason}. */
export const SKIP_REASONS: readonly SkipReason[] = [
  "not_decided",
  "in_progress",
  "policy_review",
  "disputed",
  "below_confidence",
  "not_charged",
  "refunded",
  "unknown_sku",
];

/** Options of {@link fieldLabel}. */
export interface FieldLabelOptions {
  /** A cart charged without review labels a sample only at this confidence or above, 0..1. */
  readonly minConfidence: number;
  /** The catalogue's SKUs: a cart naming another is no label. */
  readonly skus: ReadonlySet<string>;
}

/** Whether a person reviewed `s` (a review the policy settled when nobody did is not one). */
export function reviewedByPerson(s: PaymentSession): boolean {
  return s.reviewer !== null && !s.reviewer.startsWith("policy:");
}

/** The label of a sample whose payment session is `s`, or why it has none. */
export function fieldLabel(
  s: PaymentSession,
  options: FieldLabelOptions,
): { readonly label: FieldLabel } | { readonly skip: SkipReason } {
  if (!(options.minConfidence >= 0 && options.minConfidence <= 1)) {
    throw new RangeError(`Cannot label with minConfidence ${options.minConfidence}: 0..1`);
  }
  if (!s.deviceCart) return { skip: "not_decided" };
  if (s.disputed) return { skip: "disputed" };
  if (s.state !== "settled") {
    return { skip: s.state === "failed" || s.state === "declined" ? "not_charged" : "in_progress" };
  }
  // Money given back says the charged cart was not what was taken.
  if (s.refunded > 0) return { skip: "refunded" };
  const cart = (s.cart ?? []).map((l) => ({ sku: l.sku, qty: l.qty }));
  if (cart.some((l) => !options.skus.has(l.sku))) return { skip: "unknown_sku" };
  if (s.reviewer !== null) {
    // A review nobody did, settled by the policy, says nothing of what was taken.
    if (!reviewedByPerson(s)) return { skip: "policy_review" };
    return {
      label: {
        source: "reviewed",
        cart,
        reviewer: s.reviewer,
        corrected: !sameCart(cart, s.deviceCart),
      },
    };
  }
  if ((s.confidence ?? 0) < options.minConfidence) return { skip: "below_confidence" };
  return { label: { source: "confident", cart, reviewer: null, corrected: false } };
}
