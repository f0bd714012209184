/**
 * Object commit: a device asks the cloud to adopt an object whose chunks it published on
 * `$O.<bucket>.C.<deviceId>.<nuid>` (request on `vs.<region>.dev.<deviceId>.obj.commit`). A
 * device may only write its own chunks; the cloud checks them (count, size, SHA-256) and writes
 * the object's metadata, so no device can replace another device's clip or snapshot.
 *
 * @example
 * ```ts
 * import { parseObjectCommit } from "./object_commit.ts";
 * const r = parseObjectCommit(new TextEncoder().encode("{}"));
 * r.ok; // false
 * ```
 *
 * @module
 */
import { z } from "zod";
import * as f from "./_fields.ts";
import { defineFamily } from "./message_family.ts";

/** The buckets devices upload to. */
export const DEVICE_UPLOAD_BUCKETS = ["clips", "snapshots"] as const;

/** Schema of an object commit request. */
export const ObjectCommitSchema = z.strictObject({
  ...f.deviceEnvelope,
  bucket: z.enum(DEVICE_UPLOAD_BUCKETS),
  /** Object name; must start with `<deviceId>/`. */
  name: z.string().min(3).max(255).regex(/^[^\s]+$/, "must not contain whitespace"),
  /** Chunk subject suffix: `<deviceId>.<nuid>`. */
  nuid: z.string().regex(
    /^[a-z0-9][a-z0-9-]{0,62}\.[A-Za-z0-9]{8,32}$/,
    "must be <deviceId>.<nuid>",
  ),
  size: z.int().min(0),
  chunks: z.int().min(0),
  /** Chunk size used, bytes. */
  chunkBytes: z.int().min(1).max(8 * 1024 * 1024),
  sha256: f.sha256,
  description: z.string().max(500).optional(),
  metadata: z.record(z.string().max(64), z.string().max(500)).optional(),
});

/** An object commit request. */
export type ObjectCommit = z.infer<typeof ObjectCommitSchema>;

/** The object commit family. */
export const objectCommit = defineFamily<ObjectCommit>("object commit", ObjectCommitSchema);

/** Parses an object commit request; never throws. */
export const parseObjectCommit = objectCommit.parse;

/** The cloud's answer to an object commit. */
export const ObjectCommitReplySchema = z.discriminatedUnion("ok", [
  z.strictObject({ ok: z.literal(true), size: z.int().min(0), sha256: f.sha256 }),
  z.strictObject({
    ok: z.literal(false),
    /** `incomplete`: chunks missing (resume); `corrupt`: upload again; `refused`: not allowed. */
    reason: z.enum(["incomplete", "corrupt", "refused"]),
    message: z.string().max(1000),
    /** Chunks the cloud found stored. */
    storedChunks: z.int().min(0).optional(),
  }),
]);

/** The cloud's answer to an object commit. */
export type ObjectCommitReply = z.infer<typeof ObjectCommitReplySchema>;
