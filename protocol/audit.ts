/**
 * Audit entries: every mutating operator call, and every call refused for its role or a conflict, recorded by the cloud in
 * the AUDIT stream: who, what, when, and the state before and after.
 *
 * @module
 */
import { z } from "zod";
import * as f from "./_fields.ts";
import { defineFamily } from "./message_family.ts";

/** Schema of an audit entry. */
export const AuditEntrySchema = z.strictObject({
  ...f.envelope,
  actor: z.strictObject({
    subject: f.shortText.describe("Operator (token subject) or service"),
    role: z.enum(["viewer", "operator", "admin", "service", "device", "anonymous"]),
  }),
  action: z.string().regex(
    /^[a-z][a-z0-9_.]{0,63}$/,
    "must be a dotted action name such as device.update",
  ).describe(
    "What was done, e.g. command.unlock",
  ),
  target: f.shortText.describe("What it was done to, e.g. device/m001-a"),
  outcome: z.enum(["ok", "refused", "failed"]),
  requestId: f.shortText,
  before: z.record(z.string().max(64), z.json()).nullable().describe(
    "State before (an object), or null",
  ),
  after: z.record(z.string().max(64), z.json()).nullable().describe(
    "State after (an object), or null",
  ),
  reason: f.shortText.nullable().describe("Why it was refused or failed"),
});

/** An audit entry. */
export type AuditEntry = z.infer<typeof AuditEntrySchema>;

/** The audit entry family. */
export const auditEntry = defineFamily<AuditEntry>("audit entry", AuditEntrySchema);

/** Parses an audit entry; never throws. */
export const parseAuditEntry = auditEntry.parse;
