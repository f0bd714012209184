/**
 * A candidate model's decision of a door session (shadow evaluation), as the device sends it
 * beside the live model's in `session_completed`: the candidate ran on the same crops, was never
 * charged, and both models' inference time on the session is measured. The cloud scores the two
 * against reviewed truth and against each other.
 *
 * @example
 * ```ts
 * import { CandidateDecisionSchema } from "./candidate_decision.ts";
 *
 * const r = CandidateDecisionSchema.safeParse({
 *   modelVersion: "1.1.0",
 *   cart: [{ sku: "COLA-330", qty: 1 }],
 *   confidence: 0.97,
 *   review: { required: false, reasons: [] },
 *   liveMs: 412.5,
 *   candidateMs: 398.1,
 * });
 * console.log(r.success); // true
 * ```
 *
 * @module
 */
import { z } from "zod";
import * as f from "./_fields.ts";

const ms = z.number().min(0).max(3_600_000);

/** Schema of a candidate model's decision of a session. */
export const CandidateDecisionSchema = z.strictObject({
  /** The candidate model's version. */
  modelVersion: f.version.describe("The candidate model's version"),
  /** What the candidate says was taken (never charged). */
  cart: f.cart.describe("What the candidate says was taken (never charged)"),
  confidence: f.ratio,
  review: z.strictObject({ required: z.boolean(), reasons: z.array(f.shortText).max(20) }),
  /** The live model's inference time on the session's crops, ms. */
  liveMs: ms.describe("The live model's inference time on the session's crops, ms"),
  /** The candidate's inference time on the same crops, ms. */
  candidateMs: ms.describe("The candidate's inference time on the same crops, ms"),
});

/** A candidate model's decision of a session. */
export type CandidateDecision = z.infer<typeof CandidateDecisionSchema>;
