/**
 * Devices' identities: provisioning with claim credentials, NATS accounts and per-device
 * permissions, the private CA that signs servers' certificates, the command-signing key, and the
 * audit of refused NATS requests.
 *
 * @example
 * ```ts
 * import { devicePermissions } from "./mod.ts";
 *
 * console.log(devicePermissions({ region: "local", deviceId: "m001-a", peers: ["m001-b"] }));
 * ```
 *
 * @module
 */
export { loadCommandKey } from "./command_key.ts";
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
export {
  type DeviceCredentialRecord,
  DeviceProvisioning,
  type DeviceProvisioningOptions,
  ProvisioningError,
} from "./device_provisioning.ts";
export {
  type AccountName,
  type CredentialOptions,
  type IssuedCredentials,
  NatsAccounts,
  NatsAccountsError,
} from "./nats_accounts.ts";
export {
  type ImpersonatedReport,
  ImpersonationAudit,
  type ImpersonationAuditOptions,
} from "./impersonation_audit.ts";
export {
  auditNatsRefusals,
  type NatsLogSource,
  type NatsRefusal,
  type NatsRefusalAuditOptions,
  parseNatsRefusal,
} from "./nats_refusal_audit.ts";
export {
  CertificateError,
  ensurePrivateCa,
  issueServerCertificate,
  type PrivateCa,
  spkiHash,
  type TlsFiles,
} from "./private_ca.ts";
