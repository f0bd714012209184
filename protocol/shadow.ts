/**
 * Device shadow: the desired state (written by the cloud) and the reported state (written by the
 * device), each stored as one key per device in the `shadow` KV bucket.
 *
 * @module
 */
import { z } from "zod";
import * as f from "./_fields.ts";
import { defineFamily } from "./message_family.ts";
import { CalibrationSchema, MachinePlanogramSchema } from "./machine_planogram.ts";

const configKey = z.string().regex(
  /^[a-z][a-zA-Z0-9_.]{0,63}$/,
  "must be 1-64 of letters, digits, '_' and '.', starting with a lowercase letter",
);

/** Settings of one camera. */
export const CameraSettingsSchema = z.strictObject({
  enabled: z.boolean(),
  width: z.int().min(16).max(7680),
  height: z.int().min(16).max(4320),
  fps: z.int().min(1).max(120),
});

/** The state a shadow carries; every part is optional. */
export const ShadowStateSchema = z.strictObject({
  config: z.record(configKey, z.union([z.string().max(1000), z.number(), z.boolean()])).optional(),
  modelVersion: f.version.optional(),
  cameras: z.record(f.cameraId, CameraSettingsSchema).optional(),
  /** Desired: the deployment the device should carry out. Reported: the last one it handled. */
  deployment: z.strictObject({
    deploymentId: f.id,
    targets: z.array(z.strictObject({
      component: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, "must be a component name"),
      version: f.version,
      /**
       * `shadow`: a model run beside the live one as a candidate, never charged; `stop`: that
       * candidate stops running. Default live.
       */
      mode: z.enum(["live", "shadow", "stop"]).optional().describe(
        "shadow: a model run beside the live one as a candidate, never charged; stop: that candidate stops running; default live",
      ),
    })).min(1).max(8),
    /** The stream to read the artifacts from (the region's mirror); default the store's own. */
    artifacts: z.string().regex(/^OBJ_[A-Za-z0-9_-]{1,200}$/, "must be an object store stream")
      .optional(),
  }).optional(),
  /** Desired: the machine's planogram (the cloud's). Reported: the one the device decides by. */
  planogram: MachinePlanogramSchema.optional(),
  /** Reported: the slots the device's cameras see. */
  calibration: CalibrationSchema.optional(),
  /** Reported: the component versions installed, by component. */
  components: z.record(z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/), f.version).optional(),
});

/** Desired state: what the operator wants the device to be. */
export const ShadowDesiredSchema = z.strictObject({
  ...f.deviceEnvelope,
  kind: z.literal("desired"),
  /** Increases by one with every change of the desired state. */
  version: z.int().min(1).describe("Increases by one with every change of the desired state"),
  state: ShadowStateSchema,
  updatedBy: f.shortText.describe("Operator or service that made the change"),
});

/** Reported state: what the device is, and the outcome of applying a desired version. */
export const ShadowReportedSchema = z.strictObject({
  ...f.deviceEnvelope,
  kind: z.literal("reported"),
  state: ShadowStateSchema,
  applied: z.strictObject({
    /** The desired version this report answers; 0 before any. */
    desiredVersion: f.count.describe("The desired version this report answers; 0 before any"),
    ok: z.boolean(),
    /** Why parts of the desired state were not applied. */
    errors: z.array(z.strictObject({ field: z.string().max(200), reason: f.shortText })).max(50),
  }),
});

/** Schema of either side of a shadow. */
export const ShadowSchema = z.discriminatedUnion("kind", [
  ShadowDesiredSchema,
  ShadowReportedSchema,
]);

/** The state a shadow carries. */
export type ShadowState = z.infer<typeof ShadowStateSchema>;
/** Desired side of a shadow. */
export type ShadowDesired = z.infer<typeof ShadowDesiredSchema>;
/** Reported side of a shadow. */
export type ShadowReported = z.infer<typeof ShadowReportedSchema>;
/** Either side of a shadow. */
export type Shadow = z.infer<typeof ShadowSchema>;

/** The shadow family. */
export const shadow = defineFamily<Shadow>("shadow", ShadowSchema);

/** Parses a shadow document (desired or reported); never throws. */
export const parseShadow = shadow.parse;
