/**
 * The JetStream streams of a region: which subjects each captures, how long it keeps them and
 * its de-duplication window (messages are published with their `id` as `Nats-Msg-Id`).
 * Plain data, so any client can create or check them; cloud/ applies them at start.
 * Each is named `<KIND>_<REGION>`: {@link streamName} spells it.
 *
 * @example
 * ```ts
 * import { regionStreams, streamName } from "./streams.ts";
 *
 * streamName("PAYMENTS", "eu-west"); // "PAYMENTS_EU-WEST"
 * regionStreams("eu-west").map((s) => s.name).includes(streamName("EVENTS", "eu-west")); // true
 * ```
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

/** The kinds of stream every region has, in the order {@link regionStreams} lists them. */
export const STREAM_KINDS = [
  "EVENTS",
  "TELEMETRY",
  "UPDATES",
  "ALERTS",
  "AUDIT",
  "PAYMENTS",
] as const;

/** A kind of region stream, e.g. `"PAYMENTS"`. */
export type StreamKind = typeof STREAM_KINDS[number];

/**
 * The name of `region`'s stream of `kind`: `<KIND>_<REGION>`, the region upper-cased, e.g.
 * `streamName("PAYMENTS", "eu-west")` is `"PAYMENTS_EU-WEST"`. Throws a RangeError for an
 * unknown kind and a TypeError for a region that is not a subject token (`eu.west`, `EU`, `*`).
 */
export function streamName(kind: StreamKind, region: string): string {
  if (!(STREAM_KINDS as readonly unknown[]).includes(kind)) {
    throw new RangeError(
      `Cannot name a stream: kind ${JSON.stringify(kind)} is not one of ${STREAM_KINDS.join(", ")}`,
    );
  }
  if (typeof region !== "string" || !REGION.test(region)) {
    throw new TypeError(
      `Cannot name a stream: region ${JSON.stringify(region)} does not match ${REGION}`,
    );
  }
  return `${kind}_${region.toUpperCase()}`;
}

/** The streams that hold a region's history. */
export function regionStreams(region: string): StreamSpec[] {
  if (!REGION.test(region)) {
    throw new TypeError(`Cannot name streams for region ${JSON.stringify(region)}`);
  }
  const r = `${SUBJECT_ROOT}.${region}`;
  return [
    {
      name: streamName("EVENTS", region),
      description: "Pipeline events and clip-uploaded events of the region's devices",
      subjects: [`${r}.dev.*.evt.*`, `${r}.dev.*.clip`],
      maxAgeMs: 30 * DAY,
      // A device's outbox re-sends what it could not confirm; the window covers a long outage.
      duplicateWindowMs: 2 * HOUR,
    },
    {
      name: streamName("TELEMETRY", region),
      description: "Telemetry of the region's devices, kept one hour for charts",
      subjects: [`${r}.dev.*.tel`],
      maxAgeMs: HOUR,
      duplicateWindowMs: 2 * 60_000,
    },
    {
      name: streamName("UPDATES", region),
      description: "Deployment states and devices' update progress",
      subjects: [`${r}.deploy.*`, `${r}.dev.*.ota`],
      maxAgeMs: 90 * DAY,
      duplicateWindowMs: 2 * HOUR,
    },
    {
      name: streamName("ALERTS", region),
      description: "Alerts raised and cleared about the region's devices",
      subjects: [`${r}.alert.*`],
      maxAgeMs: 30 * DAY,
      duplicateWindowMs: 2 * 60_000,
    },
    {
      name: streamName("AUDIT", region),
      description: "Every mutating operator call and every call refused for its role or a conflict",
      subjects: [`${r}.audit.*`, `${r}.dev.*.audit`],
      maxAgeMs: 0,
      duplicateWindowMs: 2 * 60_000,
    },
    {
      name: streamName("PAYMENTS", region),
      description: "Every transition of every payment session",
      subjects: [`${r}.pay.*.*`],
      maxAgeMs: 0,
      duplicateWindowMs: 2 * HOUR,
    },
  ];
}
