/**
 * Shadow evaluation on the device: a candidate model runs beside the live one on the same crops
 * of each door session, and its decision travels with the live one (which alone is charged), with
 * what each model's inference cost on that session. The cloud compares the two.
 *
 * @example
 * ```ts
 * import { inputMismatch } from "./candidate_cart.ts";
 *
 * const input = { name: "crops", layout: "NCHW", size: 48, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] } as const;
 * console.log(inputMismatch({ input }, { input: { ...input, size: 64 } })); // "it takes 64x64 crops, ..."
 * ```
 *
 * @module
 */
import type { CartDecision } from "./cart_decision.ts";
import type { ModelManifest } from "../protocol/mod.ts";

/** A candidate model's decision of a session, beside the live model's. */
export interface CandidateCart {
  /** The candidate's decision (never charged). */
  readonly decision: CartDecision;
  /** Inference time of the live model on the session's crops, ms. */
  readonly liveMs: number;
  /** Inference time of the candidate on the same crops, ms. */
  readonly candidateMs: number;
}

/**
 * Why `candidate` cannot run on the crops cut for `live` (another size or normalisation), or
 * undefined when it can.
 */
export function inputMismatch(
  live: { readonly input: ModelManifest["input"] },
  candidate: { readonly input: ModelManifest["input"] },
): string | undefined {
  const a = live.input;
  const b = candidate.input;
  if (a.size !== b.size) {
    return `it takes ${b.size}x${b.size} crops, the live model ${a.size}x${a.size}`;
  }
  const same = (x: readonly number[], y: readonly number[]) => x.every((v, i) => v === y[i]);
  if (!same(a.mean, b.mean) || !same(a.std, b.std)) {
    return `it normalises crops by mean ${b.mean.join(",")} std ${b.std.join(",")}, ` +
      `the live model by mean ${a.mean.join(",")} std ${a.std.join(",")}`;
  }
  return undefined;
}
