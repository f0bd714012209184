/**
 * Session status for devices: a device asks the cloud whether its door sessions are paid (to
 * know when their clips may be evicted), on its own subject `vs.<region>.dev.<deviceId>.sessions`
 * (request/reply). The cloud answers only for sessions its cabinet was unlocked for: a device
 * never reads payment events, which name customers and amounts.
 *
 * @example
 * ```ts
 * import { SessionStatusRequestSchema } from "./session_status.ts";
 * SessionStatusRequestSchema.safeParse({ sessionIds: [] }).success; // true
 * ```
 *
 * @module
 */
import { z } from "zod";
import * as f from "./_fields.ts";

/** The sessions a device asks about (at most 50 at a time). */
export const SessionStatusRequestSchema = z.strictObject({
  sessionIds: z.array(f.id).max(50),
});

/** A device's question. */
export type SessionStatusRequest = z.infer<typeof SessionStatusRequestSchema>;

/**
 * Per session: `settled` (captured, released, refunded or failed: clips may go), `disputed`
 * (keep them), `open` (not settled yet), `none` (no payment session of this cabinet).
 */
export const SessionStatusReplySchema = z.strictObject({
  sessions: z.record(f.id, z.enum(["settled", "disputed", "open", "none"])),
});

/** The cloud's answer. */
export type SessionStatusReply = z.infer<typeof SessionStatusReplySchema>;
