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
export { type Actor, allows, AuthError, type Role, ROLES, TokenService } from "./auth.ts";
export { type FleetDeps, type FleetEnv, fleetRoutes } from "./fleet_api.ts";
export { FleetIngest, type FleetIngestOptions, type IngestCounters } from "./fleet_ingest.ts";
export { type IngestThread, startIngestThread } from "./ingest_thread.ts";
export * from "./fleet_model.ts";
export { FleetState, putJson, RevisionConflictError } from "./fleet_state.ts";
export { KvReplica, type Versioned } from "./kv_replica.ts";
export { createLoginCode, redeemLoginCode } from "./login_links.ts";
export { dashboardRoutes, liveClients, SESSION_COOKIE } from "./dashboard.tsx";
export { ApiError, problem } from "./problem.ts";
export { Metrics } from "./prometheus.ts";
export { type CloudService, type CloudServiceOptions, startCloudService } from "./cloud_service.ts";
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
  connectNats,
  type ConnectNatsOptions,
  type NatsTarget,
  NatsUnavailableError,
  readCreds,
} from "./nats_connect.ts";
export {
  type AccountName,
  type CredentialOptions,
  type IssuedCredentials,
  NatsAccounts,
  NatsAccountsError,
} from "./nats_accounts.ts";
export {
  claimPermissions,
  CLOUD_TO_DEVICES,
  type DeviceGrant,
  devicePermissions,
  DEVICES_TO_CLOUD,
  type SharedSubject,
  simulatorPermissions,
  type UserPermissions,
} from "./device_permissions.ts";
export { natsHealth } from "./nats_health.ts";
export { ensureDeviceBuckets, ensureStreams, type StreamPlacement } from "./streams.ts";
export { loadCommandKey } from "./command_key.ts";
export {
  CertificateError,
  ensurePrivateCa,
  issueServerCertificate,
  type PrivateCa,
  spkiHash,
  type TlsFiles,
} from "./private_ca.ts";
export {
  type DeviceCredentialRecord,
  DeviceProvisioning,
  type DeviceProvisioningOptions,
  ProvisioningError,
} from "./device_provisioning.ts";
export {
  auditNatsRefusals,
  type NatsLogSource,
  type NatsRefusal,
  type NatsRefusalAuditOptions,
  parseNatsRefusal,
} from "./nats_refusal_audit.ts";
export { type ObjectIntakeOptions, serveObjectCommits } from "./object_intake.ts";
export { serveSessionStatus } from "./session_status.ts";
export { KvSandboxStore } from "./kv_sandbox_store.ts";
export {
  CommandSender,
  type CommandSpec,
  InvalidCommandError,
  type SentCommand,
} from "./command_sender.ts";
export { CrashingProvider, type CrashPoint } from "./crashing_provider.ts";
export { natsMachineUnlocker, type NatsMachineUnlockerOptions } from "./machine_unlocker.ts";
export {
  cardNumberGuard,
  containsCardNumber,
  type PaymentDeps,
  paymentRoutes,
} from "./payment_api.ts";
export {
  checkPaymentBooks,
  type Customer,
  type MachineUnlocker,
  PaymentConflictError,
  type PaymentMethod,
  PaymentNotFoundError,
  PaymentService,
  type PaymentServiceOptions,
  type PaymentSessionDetail,
  PriceMismatchError,
  type SessionClip,
} from "./payment_service.ts";
export {
  DEFAULT_PRICE_LIST,
  fixedPrices,
  type MachinePrices,
  PriceBook,
  type PriceBookOptions,
  PriceListError,
  type PriceListInput,
  PriceListInputSchema,
  PriceListNotFoundError,
  type PriceListRef,
  type PriceSource,
  type StoredPriceList,
} from "./price_book.ts";
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
export { type CodeMessage, type CodeSender, LogCodeSender, SmtpCodeSender } from "./code_sender.ts";
export {
  CodeDeliveryError,
  CodeThrottledError,
  CustomerAuth,
  CustomerAuthError,
  type CustomerAuthOptions,
  InvalidCodeError,
  normalizeContact,
} from "./customer_auth.ts";
export { CUSTOMER_COOKIE, type CustomerAppDeps, customerAppRoutes } from "./customer_app.tsx";
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
  LocalSupercluster,
  type LocalSuperclusterOptions,
  startLocalSupercluster,
} from "./local_supercluster.ts";
export {
  type CountedStatus,
  type DeviceCounts,
  RegionSummaries,
  type RegionSummariesOptions,
  type RegionSummary,
  type RegionView,
  summarize,
} from "./region_summaries.ts";
export {
  type Coherence,
  coherence,
  coherentKv,
  type CoherentKvOptions,
  DEFAULT_BOUND_MS,
  getLatest,
  ReplicaBehindError,
} from "./coherent_kv.ts";
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
