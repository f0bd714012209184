/**
 * The JetStream streams of a region: which subjects each captures, how long it keeps them and
 * its de-duplication window (messages are published with their `id` as `Nats-Msg-Id`).
 * Plain data, so any client can create or check them; cloud/ applies them at start.
 *
 * @module
 */
import { SUBJECT_ROOT } from "./subjects.ts";

/** Configuration of one stream, independent of any client library. */
export interface StreamSpec {
  /** Stream name, e.g. `"EVENTS_EU-WEST"`. */
  readonly name: string;
  /** What the stream holds. */
  readonly description: string;
  /** Subjects it captures. */
  readonly subjects: readonly string[];
  /** Oldest message kept, in milliseconds; 0 keeps messages forever. */
  readonly maxAgeMs: number;
  /** Window in which a repeated message id is dropped as a duplicate, in milliseconds. */
  readonly duplicateWindowMs: number;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const REGION = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** The streams that hold a region's history. */
export function regionStreams(region: string): StreamSpec[] {
  if (!REGION.test(region)) {
    throw new TypeError(`Cannot name streams for region ${JSON.stringify(region)}`);
  }
  const r = `${SUBJECT_ROOT}.${region}`;
  const suffix = region.toUpperCase();
  return [
    {
      name: `EVENTS_${suffix}`,
      description: "Pipeline events and clip-uploaded events of the region's devices",
      subjects: [`${r}.dev.*.evt.*`, `${r}.dev.*.clip`],
      maxAgeMs: 30 * DAY,
      // A device's outbox re-sends what it could not confirm; the window covers a long outage.
      duplicateWindowMs: 2 * HOUR,
    },
    {
      name: `TELEMETRY_${suffix}`,
      description: "Telemetry of the region's devices, kept one hour for charts",
      subjects: [`${r}.dev.*.tel`],
      maxAgeMs: HOUR,
      duplicateWindowMs: 2 * 60_000,
    },
    {
      name: `UPDATES_${suffix}`,
      description: "Deployment states and devices' update progress",
      subjects: [`${r}.deploy.*`, `${r}.dev.*.ota`],
      maxAgeMs: 90 * DAY,
      duplicateWindowMs: 2 * HOUR,
    },
    {
      name: `ALERTS_${suffix}`,
      description: "Alerts raised and cleared about the region's devices",
      subjects: [`${r}.alert.*`],
      maxAgeMs: 30 * DAY,
      duplicateWindowMs: 2 * 60_000,
    },
    {
      name: `AUDIT_${suffix}`,
      description: "Every mutating operator call and every call refused for its role or a conflict",
      subjects: [`${r}.audit.*`, `${r}.dev.*.audit`],
      maxAgeMs: 0,
      duplicateWindowMs: 2 * 60_000,
    },
    {
      name: `PAYMENTS_${suffix}`,
      description: "Every transition of every payment session",
      subjects: [`${r}.pay.*.*`],
      maxAgeMs: 0,
      duplicateWindowMs: 2 * HOUR,
    },
  ];
}
