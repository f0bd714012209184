/**
 * Deployments and update progress: the cloud's state changes of a rollout, and each device's
 * progress through download, verification, install and health check.
 *
 * @module
 */
import { z } from "zod";
import * as f from "./_fields.ts";
import { defineFamily } from "./message_family.ts";

/** States of a deployment. */
export const DEPLOYMENT_STATES = [
  "created",
  "running",
  "paused",
  "completed",
  "aborted",
  "cancelled",
  "superseded",
] as const;

/** Phases of one device's update. */
export const UPDATE_PHASES = [
  "queued",
  "downloading",
  "verifying",
  "installing",
  "switching",
  "health_check",
  "healthy",
  "failed",
  "rolled_back",
] as const;

const component = z.string().regex(
  /^[a-z0-9][a-z0-9._-]{0,63}$/,
  "must be 1-64 of a-z, 0-9, '.', '_' and '-'",
);

/** Schema of a deployment event; `type` selects the shape. */
export const DeploymentEventSchema = z.discriminatedUnion("type", [
  z.strictObject({
    ...f.envelope,
    type: z.literal("deployment_state"),
    deploymentId: f.id,
    state: z.enum(DEPLOYMENT_STATES),
    counts: z.strictObject({
      targeted: f.count,
      succeeded: f.count,
      failed: f.count,
      inProgress: f.count,
    }),
    reason: f.shortText.nullable(),
  }),
  z.strictObject({
    ...f.deviceEnvelope,
    type: z.literal("update_progress"),
    deploymentId: f.id,
    component,
    version: f.version,
    phase: z.enum(UPDATE_PHASES),
    bytesDone: f.bytes,
    bytesTotal: f.bytes,
    /** Bytes not downloaded thanks to chunks the device already held. */
    bytesSaved: f.bytes.describe("Bytes not downloaded thanks to chunks the device already held"),
    reason: f.shortText.nullable(),
  }).refine((e) => e.bytesDone <= e.bytesTotal, {
    path: ["bytesDone"],
    message: "must not exceed bytesTotal",
  }),
]);

/** A deployment event. */
export type DeploymentEvent = z.infer<typeof DeploymentEventSchema>;

/** The deployment family. */
export const deploymentEvent = defineFamily<DeploymentEvent>(
  "deployment event",
  DeploymentEventSchema,
);

/** Parses a deployment event (state change or device progress); never throws. */
export const parseDeploymentEvent = deploymentEvent.parse;
