/**
 * NATS plumbing of the cloud service: connecting, stream and bucket layout per region, leader and
 * coherent reads, replicas kept by watching a bucket, health.
 *
 * @example
 * ```ts
 * import { connectNats, ensureStreams } from "./mod.ts";
 *
 * await using nc = await connectNats("nats://127.0.0.1:4222");
 * await ensureStreams(nc, "local");
 * ```
 *
 * @module
 */
export {
  type Coherence,
  coherence,
  coherentKv,
  type CoherentKvOptions,
  DEFAULT_BOUND_MS,
  getLatest,
  leaderLastSequence,
  ReplicaBehindError,
} from "./coherent_kv.ts";
export { atomicUpdates, type AtomicUpdatesOptions } from "./atomic_updates.ts";
export { KvReplica, type Versioned } from "./kv_replica.ts";
export {
  connectNats,
  type ConnectNatsOptions,
  type NatsTarget,
  NatsUnavailableError,
  readCreds,
} from "./nats_connect.ts";
export { type Health, natsHealth } from "./nats_health.ts";
export {
  coherenceOf,
  ensureObjectMirror,
  openKv,
  type OpenKvOptions,
  openObjectStore,
  openRegionObjectStore,
  placementIn,
  type RegionLayout,
  regionLayout,
  SINGLE_SERVER,
  useRegionLayout,
} from "./region_layout.ts";
export { ensureDeviceBuckets, ensureStreams, type StreamPlacement } from "./streams.ts";
export { fetchLoop, type FetchLoopOptions } from "./fetch_loop.ts";
export {
  planSupercluster,
  type PlanSuperclusterOptions,
  regionTag,
  regionUrls,
  serverConfig,
  type ServerConfigOptions,
  type ServerTlsFiles,
  type SuperclusterPlan,
  type SuperclusterServer,
  WITNESS_CLUSTER,
} from "./supercluster.ts";
export {
  isConsumerExists,
  isNoSuitablePeers,
  isRevisionConflict,
  isStreamNotFound,
  isTransientNatsError,
} from "./transient_error.ts";
