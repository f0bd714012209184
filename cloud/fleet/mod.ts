/**
 * The fleet: device and group records, ingesting what devices report (in a worker thread),
 * commands to devices, region summaries, the commit of objects devices upload, and machines'
 * planograms (stored, and taken to each machine).
 *
 * @example
 * ```ts
 * import { FleetState } from "./mod.ts";
 *
 * declare const nc: import("@nats-io/nats-core").NatsConnection;
 * const state = await FleetState.open(nc);
 * console.log(state);
 * ```
 *
 * @module
 */
export {
  CommandSender,
  type CommandSpec,
  InvalidCommandError,
  type SentCommand,
} from "./command_sender.ts";
export { type DesiredChange, type DesiredChangeOptions, DesiredShadow } from "./desired_shadow.ts";
export {
  type DeviceFeedOptions,
  DeviceFeeds,
  type DeviceFeedsOptions,
  TELEMETRY_HISTORY_MAX,
  TELEMETRY_HISTORY_MS,
} from "./device_feeds.ts";
export { FleetIngest, type FleetIngestOptions, type IngestCounters } from "./fleet_ingest.ts";
export { FleetState, isRevisionConflict, putJson, RevisionConflictError } from "./fleet_state.ts";
export { type IngestThread, startIngestThread } from "./ingest_thread.ts";
export { type ObjectIntakeOptions, serveObjectCommits } from "./object_intake.ts";
export {
  PlanogramBook,
  PlanogramConflictError,
  PlanogramRefusedError,
  type PutPlanogramOptions,
  type StoredPlanogram,
} from "./planogram_book.ts";
export { PlanogramPush, type PlanogramPushOptions } from "./planogram_push.ts";
export {
  type CountedStatus,
  type DeviceCounts,
  RegionSummaries,
  type RegionSummariesOptions,
  type RegionSummary,
  type RegionView,
  summarize,
} from "./region_summaries.ts";
export * from "./fleet_model.ts";
