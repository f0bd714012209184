/**
 * The cloud side of Vendstream: the Hono service over NATS state, as its programs use it (the
 * cloud program `./vend cloud`, the demo, `./vend token`, `./vend ledger`): start the service
 * from its validated configuration, build its application from sub-apps, issue operator tokens,
 * connect to NATS and check the payment books.
 *
 * Each domain has its own surface for whoever extends it: `auth/` (operator tokens, customer
 * sign-in), `fleet/` (devices, shadows, commands, ingest), `checkout/` (the payment service and
 * price book), `updates/` (component registry, deployments), `provisioning/` (device
 * credentials, NATS accounts, the private CA), `nats/` (streams, region layout, replicas),
 * `http/` (the routes and middleware), `ui/` (the pages). The local nats-server of the demo and
 * the tests (`dev/`) and the fault injection of crash tests (`testing/`) are not part of it:
 * cli/, tests/ and bench/ import them from their own mod.ts.
 *
 * @example
 * ```ts
 * import { startCloudService } from "./mod.ts";
 *
 * await using svc = await startCloudService(Deno.env.get("NATS_URL") ?? "nats://127.0.0.1:4222");
 * const res = await fetch(`${svc.url}/healthz`);
 * ```
 *
 * @module
 */
export { type CloudService, type CloudServiceOptions, startCloudService } from "./cloud_service.ts";
export {
  type CloudConfig,
  CloudConfigError,
  CloudEnvSchema,
  cloudServiceOptions,
  loadCloudConfig,
} from "./cloud_config.ts";
export { type AppDeps, createApp, type Mount } from "./app.ts";
export { type Actor, allows, AuthError, type Role, ROLES, TokenService } from "./auth/mod.ts";
export {
  connectNats,
  type ConnectNatsOptions,
  type Health,
  natsHealth,
  type NatsTarget,
  NatsUnavailableError,
  readCreds,
} from "./nats/mod.ts";
export { checkPaymentBooks } from "./checkout/mod.ts";
