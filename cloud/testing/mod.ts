/**
 * Fault injection for tests: a payment provider that crashes the process at a chosen point.
 * Imported only by cli/ (the cloud program, under a test switch), tests and benchmarks; never by
 * the rest of cloud/ (the service takes a provider wrapper instead).
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
