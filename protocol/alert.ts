/**
 * Alerts the cloud raises about devices (offline too long, too hot, pipeline dropping frames,
 * outbox filling) and clears when the condition ends.
 *
 * @module
 */
import { z } from "zod";
import * as f from "./_fields.ts";
import { defineFamily } from "./message_family.ts";

/** Kinds of alerts. */
export const ALERT_KINDS = [
  "offline",
  "temperature",
  "pipeline_drops",
  "outbox_filling",
  "spool_full",
  "review_rate",
] as const;

/** Schema of an alert event. */
export const AlertSchema = z.strictObject({
  ...f.deviceEnvelope,
  kind: z.enum(ALERT_KINDS),
  state: z.enum(["raised", "cleared"]),
  severity: z.enum(["warning", "critical"]),
  message: f.shortText,
  /** The measured value that raised it, when there is one. */
  value: z.number().nullable(),
});

/** An alert event. */
export type Alert = z.infer<typeof AlertSchema>;

/** The alert family. */
export const alert = defineFamily<Alert>("alert", AlertSchema);

/** Parses an alert; never throws. */
export const parseAlert = alert.parse;
