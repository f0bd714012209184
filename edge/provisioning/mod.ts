/**
 * The device's identity: claiming credentials with a batch's claim credential, and renewing them
 * before they expire.
 *
 * @example
 * ```ts
 * import { readIdentity } from "./mod.ts";
 *
 * console.log(await readIdentity("/var/lib/vendstream"));
 * ```
 *
 * @module
 */
export {
  ClaimError,
  identityConfig,
  identityFiles,
  provisionDevice,
  type ProvisionOptions,
  readIdentity,
  renewCredentials,
} from "./provisioning.ts";
