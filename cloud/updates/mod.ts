/**
 * Remote updates: the component registry (signed versions, content-defined chunks in the
 * artifacts store) and deployments rolled out across groups and regions.
 *
 * @example
 * ```ts
 * import { contentChunks } from "./mod.ts";
 *
 * console.log(contentChunks(new Uint8Array(1 << 20)).length);
 * ```
 *
 * @module
 */
export { ComponentError, ComponentRegistry } from "./component_registry.ts";
export { type ChunkSizes, type ChunkSpan, contentChunks } from "./content_chunker.ts";
export {
  type Deployment,
  type DeploymentCounts,
  type DeploymentSelector,
  DeploymentService,
  type DeploymentServiceOptions,
  type DeviceDeploymentStatus,
  type DeviceEntry,
  type RolloutPolicy,
  type SelectableDevice,
} from "./deployments.ts";
export {
  DEFAULT_MIN_REVIEWED,
  type PromotionVerdict,
  type ShadowPromotion,
} from "./deployment_model.ts";
export {
  judgeShadows,
  runShadowJudge,
  type ShadowJudgeOptions,
  type ShadowScorer,
} from "./shadow_judge.ts";
