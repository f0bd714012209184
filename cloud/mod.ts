/**
 * The cloud side of Vendstream: the Hono service over NATS state, and the local nats-server
 * that is the embedded default for the demo and the tests.
 *
 * @example
 * ```ts
 * import { ensureNats, startCloudService } from "./mod.ts";
 *
 * await using nats = await ensureNats(); // NATS_URL, or a local nats-server
 * await using svc = await startCloudService(nats.url);
 * const res = await fetch(`${svc.url}/healthz`);
 * ```
 *
 * @module
 */
export { type AppDeps, createApp, type Health } from "./app.ts";
export { type CloudService, type CloudServiceOptions, startCloudService } from "./cloud_service.ts";
export {
  defaultDataDir,
  ensureNats,
  type EnsureNatsOptions,
  LocalNats,
  type LocalNatsOptions,
  type NatsEndpoint,
  NatsStartError,
  startLocalNats,
} from "./local_nats.ts";
export { jsonLogger, type Logger, type LogLevel } from "./logger.ts";
export { connectNats, type ConnectNatsOptions, NatsUnavailableError } from "./nats_connect.ts";
export { natsHealth } from "./nats_health.ts";
export { onShutdown } from "./shutdown.ts";
export { ensureStreams } from "./streams.ts";
