/**
 * Pipeline events a device publishes about its door sessions and cameras. The events that must
 * not be lost (above all `session_completed`) go through the device's outbox to the EVENTS stream.
 *
 * @module
 */
import { z } from "zod";
import * as f from "./_fields.ts";
import { defineFamily } from "./message_family.ts";
import { SessionEvidenceSchema } from "./session_evidence.ts";
import { CandidateDecisionSchema } from "./candidate_decision.ts";

const base = { ...f.deviceEnvelope, machineId: f.machineId };
const item = {
  ...base,
  sessionId: f.id,
  sku: f.sku,
  cameraId: f.cameraId,
  confidence: f.ratio,
  /** When it happened, on the machine's reference clock (Unix ms). */
  at: f.timestamp.describe("When it happened, on the machine's reference clock (Unix ms)"),
};

/** Schema of a pipeline event; `type` selects the shape. */
export const PipelineEventSchema = z.discriminatedUnion("type", [
  z.strictObject({ ...base, type: z.literal("door_opened"), sessionId: f.id }),
  z.strictObject({ ...base, type: z.literal("door_closed"), sessionId: f.id, openMs: f.count }),
  z.strictObject({ ...item, type: z.literal("item_taken") }),
  z.strictObject({ ...item, type: z.literal("item_returned") }),
  z.strictObject({
    ...base,
    type: z.literal("session_completed"),
    sessionId: f.id,
    openedAt: f.timestamp,
    closedAt: f.timestamp,
    /** What was taken, net of returns. */
    cart: f.cart.describe("What was taken, net of returns"),
    /** Confidence in the whole cart, 0..1. */
    confidence: f.ratio.describe("Confidence in the whole cart, 0..1"),
    /** Per cart line, how sure the device is of it, 0..1 (policies charge only the sure ones). */
    lineConfidence: z.record(f.sku, f.ratio).optional().describe(
      "Per cart line (SKU), how sure the device is of it, 0..1",
    ),
    review: z.strictObject({ required: z.boolean(), reasons: z.array(f.shortText).max(20) }),
    modelVersion: f.version,
    /** What each slot showed before and after, and where it was cut (absent from older builds). */
    evidence: SessionEvidenceSchema.optional().describe(
      "What each slot showed before and after the session, and where each camera's crop was cut",
    ),
    /** A candidate model's decision of the same session (shadow evaluation), never charged. */
    candidate: CandidateDecisionSchema.optional().describe(
      "A candidate model's decision of the same session (shadow evaluation), never charged",
    ),
  }).refine((e) => e.closedAt >= e.openedAt, {
    path: ["closedAt"],
    message: "must not be before openedAt",
  }),
  z.strictObject({
    ...base,
    type: z.literal("camera_lost"),
    cameraId: f.cameraId,
    lastFrameAt: f.timestamp.nullable(),
    reason: f.shortText,
  }),
  z.strictObject({
    ...base,
    type: z.literal("camera_resumed"),
    cameraId: f.cameraId,
    gapMs: f.count,
  }),
  z.strictObject({
    ...base,
    type: z.literal("pipeline_error"),
    stage: f.shortText,
    cameraId: f.cameraId.nullable(),
    reason: f.shortText,
  }),
]);

/** A pipeline event. */
export type PipelineEvent = z.infer<typeof PipelineEventSchema>;
/** The `type` of a pipeline event. */
export type PipelineEventType = PipelineEvent["type"];

/** The pipeline event family. */
export const pipelineEvent = defineFamily<PipelineEvent>("pipeline event", PipelineEventSchema);

/** Parses a pipeline event; never throws. */
export const parsePipelineEvent = pipelineEvent.parse;
