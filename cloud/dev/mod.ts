/**
 * Local NATS servers for development, the demo, tests and benchmarks: one nats-server, or a
 * supercluster of regions. Imported only by cli/, tests/ and bench/.
 *
 * @example
 * ```ts
 * import { startLocalNats } from "./mod.ts";
 *
 * await using nats = await startLocalNats();
 * console.log(nats.url);
 * ```
 *
 * @module
 */
export {
  defaultDataDir,
  ensureNats,
  type EnsureNatsOptions,
  LocalNats,
  type LocalNatsOptions,
  localNatsTarget,
  type NatsEndpoint,
  NatsStartError,
  startLocalNats,
} from "./local_nats.ts";
export {
  LocalSupercluster,
  type LocalSuperclusterOptions,
  startLocalSupercluster,
} from "./local_supercluster.ts";
