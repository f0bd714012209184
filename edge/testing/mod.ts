/**
 * What the device program offers tests and nothing else: fault hooks that kill it at a named
 * point of its work. Imported by edge/main.ts (when `VEND_FAULT` is set), tests and bench only.
 *
 * @example
 * ```ts
 * import { faultHooks, parseFaultSpec } from "./mod.ts";
 *
 * const hooks = faultHooks(parseFaultSpec("update:install"));
 * ```
 *
 * @module
 */
export {
  faultHooks,
  type FaultHooksOptions,
  type FaultSpec,
  parseFaultSpec,
} from "./fault_hooks.ts";
