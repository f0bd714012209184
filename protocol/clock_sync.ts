/**
 * Clock sync messages between the two devices of a machine (NTP-style four timestamps): the
 * secondary requests with its send time `t0`; the primary replies with `t0`, its receive time
 * `t1` and its send time `t2`. Carried by request/reply on `vs.<r>.dev.<primary>.clock`.
 *
 * @module
 */
import { z } from "zod";
import * as f from "./_fields.ts";
import { defineFamily } from "./message_family.ts";

const time = z.number().min(0).max(8.64e15).describe("Clock reading, Unix ms (fractions allowed)");

/** Schema of a clock sync request or reply. */
export const ClockSyncSchema = z.discriminatedUnion("kind", [
  z.strictObject({ ...f.deviceEnvelope, kind: z.literal("request"), t0: time }),
  z.strictObject({ ...f.deviceEnvelope, kind: z.literal("reply"), t0: time, t1: time, t2: time })
    .refine((m) => m.t2 >= m.t1, { path: ["t2"], message: "must not be before t1" }),
]);

/** A clock sync request or reply. */
export type ClockSyncMessage = z.infer<typeof ClockSyncSchema>;

/** The clock sync family. */
export const clockSync = defineFamily<ClockSyncMessage>("clock sync", ClockSyncSchema);

/** Parses a clock sync message; never throws. */
export const parseClockSync = clockSync.parse;
