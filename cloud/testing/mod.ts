/**
 * Fault injection for tests: a payment provider that crashes the process at a chosen point.
 * Imported only by the service's entry point (under a test switch), tests and benchmarks.
 *
 * @example
 * ```ts
 * import { CrashingProvider } from "./mod.ts";
 *
 * console.log(typeof CrashingProvider);
 * ```
 *
 * @module
 */
export { CrashingProvider, type CrashPoint } from "./crashing_provider.ts";
