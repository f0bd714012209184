/**
 * The cloud side of Vendstream: the Hono service over NATS state. The local nats-server of the
 * demo and the tests (cloud/dev/) and the fault injection of crash tests (cloud/testing/) are not
 * part of it: cli/, tests/ and bench/ import them from their own mod.ts.
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
export { type AppDeps, createApp, type Mount } from "./app.ts";
export { type Actor, allows, AuthError, type Role, ROLES, TokenService } from "./auth/mod.ts";
export { type FleetDeps, type FleetEnv } from "./http/mod.ts";
export { FleetIngest, type FleetIngestOptions, type IngestCounters } from "./fleet/mod.ts";
export { type IngestThread, startIngestThread } from "./fleet/mod.ts";
export {
  type AlertRecord,
  AlertRecordSchema,
  type CommandRecord,
  CommandRecordSchema,
  decodeStatus,
  decodeWith,
  DeviceIdSchema,
  DeviceInputSchema,
  type DeviceRecord,
  DeviceRecordSchema,
  type DeviceStatus,
  DeviceStatusSchema,
  type DeviceView,
  DeviceViewSchema,
  GroupInputSchema,
  type GroupRecord,
  GroupRecordSchema,
} from "./fleet/mod.ts";
export { FleetState, putJson, RevisionConflictError } from "./fleet/mod.ts";
export { KvReplica, type Versioned } from "./nats/mod.ts";
export { createLoginCode, redeemLoginCode } from "./auth/mod.ts";
export { liveClients, SESSION_COOKIE } from "./ui/mod.ts";
export { ApiError, problem } from "./http/mod.ts";
export { Metrics } from "./http/mod.ts";
export { type CloudService, type CloudServiceOptions, startCloudService } from "./cloud_service.ts";
export {
  type CloudConfig,
  CloudConfigError,
  CloudEnvSchema,
  cloudServiceOptions,
  loadCloudConfig,
} from "./cloud_config.ts";
export {
  connectNats,
  type ConnectNatsOptions,
  type NatsTarget,
  NatsUnavailableError,
  readCreds,
} from "./nats/mod.ts";
export {
  type AccountName,
  type CredentialOptions,
  type IssuedCredentials,
  NatsAccounts,
  NatsAccountsError,
} from "./provisioning/mod.ts";
export {
  claimPermissions,
  CLOUD_TO_DEVICES,
  type DeviceGrant,
  devicePermissions,
  DEVICES_TO_CLOUD,
  type SharedSubject,
  simulatorPermissions,
  type UserPermissions,
} from "./provisioning/mod.ts";
export { type Health, natsHealth } from "./nats/mod.ts";
export { ensureDeviceBuckets, ensureStreams, type StreamPlacement } from "./nats/mod.ts";
export { loadCommandKey } from "./provisioning/mod.ts";
export {
  CertificateError,
  ensurePrivateCa,
  issueServerCertificate,
  type PrivateCa,
  spkiHash,
  type TlsFiles,
} from "./provisioning/mod.ts";
export {
  type DeviceCredentialRecord,
  DeviceProvisioning,
  type DeviceProvisioningOptions,
  ProvisioningError,
} from "./provisioning/mod.ts";
export {
  auditNatsRefusals,
  type NatsLogSource,
  type NatsRefusal,
  type NatsRefusalAuditOptions,
  parseNatsRefusal,
} from "./provisioning/mod.ts";
export { type ObjectIntakeOptions, serveObjectCommits } from "./fleet/mod.ts";
export { serveSessionStatus } from "./checkout/mod.ts";
export { KvSandboxStore } from "./checkout/mod.ts";
export {
  CommandSender,
  type CommandSpec,
  InvalidCommandError,
  type SentCommand,
} from "./fleet/mod.ts";
export { natsMachineUnlocker, type NatsMachineUnlockerOptions } from "./checkout/mod.ts";
export { cardNumberGuard, containsCardNumber, type PaymentDeps } from "./http/mod.ts";
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
} from "./checkout/mod.ts";
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
} from "./checkout/mod.ts";
export { ComponentError, ComponentRegistry } from "./updates/mod.ts";
export { type ChunkSizes, type ChunkSpan, contentChunks } from "./updates/mod.ts";
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
} from "./updates/mod.ts";
export { type CodeMessage, type CodeSender, LogCodeSender, SmtpCodeSender } from "./auth/mod.ts";
export {
  CodeDeliveryError,
  CodeThrottledError,
  CustomerAuth,
  CustomerAuthError,
  type CustomerAuthOptions,
  InvalidCodeError,
  normalizeContact,
} from "./auth/mod.ts";
export { CUSTOMER_COOKIE, type CustomerAppDeps } from "./ui/mod.ts";
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
} from "./nats/mod.ts";
export {
  type CountedStatus,
  type DeviceCounts,
  RegionSummaries,
  type RegionSummariesOptions,
  type RegionSummary,
  type RegionView,
  summarize,
} from "./fleet/mod.ts";
export {
  type Coherence,
  coherence,
  coherentKv,
  type CoherentKvOptions,
  DEFAULT_BOUND_MS,
  getLatest,
  ReplicaBehindError,
} from "./nats/mod.ts";
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
} from "./nats/mod.ts";
