/**
 * Clip uploaded: published by a device after a session clip is complete in the object store.
 *
 * @module
 */
import { z } from "zod";
import * as f from "./_fields.ts";
import { defineFamily } from "./message_family.ts";

/** Schema of a clip-uploaded event. */
export const ClipUploadedSchema = z.strictObject({
  ...f.deviceEnvelope,
  sessionId: f.id,
  cameraId: f.cameraId,
  /** Object store bucket and object name of the clip. */
  bucket: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "must be 1-64 of A-Z, a-z, 0-9, '_' and '-'"),
  object: z.string().min(1).max(255).regex(/^[^\s]+$/, "must not contain whitespace"),
  sha256: f.sha256.describe("SHA-256 of the whole object; the clip's identity"),
  bytes: z.int().min(1),
  codec: z.enum(["h264"]),
  width: z.int().min(16).max(7680),
  height: z.int().min(16).max(4320),
  frames: z.int().min(1),
  /** First and last frame time on the machine's reference clock (Unix ms). */
  startTs: f.timestamp.describe("First frame time on the machine's reference clock (Unix ms)"),
  endTs: f.timestamp.describe("Last frame time (Unix ms)"),
}).refine((c) => c.endTs >= c.startTs, { path: ["endTs"], message: "must not be before startTs" });

/** A clip-uploaded event. */
export type ClipUploaded = z.infer<typeof ClipUploadedSchema>;

/** The clip-uploaded family. */
export const clipUploaded = defineFamily<ClipUploaded>("clip uploaded", ClipUploadedSchema);

/** Parses a clip-uploaded event; never throws. */
export const parseClipUploaded = clipUploaded.parse;
