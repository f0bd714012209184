/**
 * Remote updates on the device: verified, resumable, delta downloads of signed versions, A/B
 * slots, the updater, and the supervisor that starts a slot and rolls back one that is not
 * healthy.
 *
 * @example
 * ```ts
 * import { OtaSlots } from "./mod.ts";
 *
 * const slots = await OtaSlots.open("/var/lib/vendstream/ota");
 * console.log(await slots.read());
 * ```
 *
 * @module
 */
export {
  ArtifactVerifyError,
  fetchArtifacts,
  type FetchArtifactsOptions,
  type FetchProgress,
  type FetchResult,
} from "./artifact_fetcher.ts";
export { type ChunkStore, FileChunkStore, PooledChunkStore } from "./chunk_store.ts";
export { type InstalledModel, type ModelRoles, ModelSlots } from "./model_slots.ts";
export {
  OtaSlots,
  type OtaState,
  otherSlot,
  type SlotInfo,
  type SlotName,
  type Trial,
  type UpdateOutcome,
} from "./ota_slots.ts";
export {
  type HealthReport,
  runSupervisor,
  type SupervisorOptions,
  SWITCH_EXIT_CODE,
} from "./supervisor.ts";
export {
  type DeploymentOrder,
  UpdateError,
  Updater,
  type UpdaterOptions,
  type UpdateStep,
} from "./updater.ts";
