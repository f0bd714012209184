/**
 * Who is asking: operators' tokens and roles, customers' sign-in by one-time code, the senders of
 * those codes, and login links.
 *
 * @example
 * ```ts
 * import { allows } from "./mod.ts";
 *
 * console.log(allows({ subject: "ops-1", role: "viewer" }, "operator")); // false
 * ```
 *
 * @module
 */
export { type Actor, allows, AuthError, type Role, ROLES, TokenService } from "./auth.ts";
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
export { createLoginCode, redeemLoginCode } from "./login_links.ts";
