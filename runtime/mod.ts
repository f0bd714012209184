/**
 * What the cloud service and the device program both need from their runtime, with no domain
 * logic: writing private files, turning signals into an `AbortSignal`, structured logs, waiting
 * that a stop cuts short, trying again, working through items a few at a time, and a KV
 * read-modify-write that holds against other writers. Deno APIs are allowed here (and in edge/
 * and cloud/), not in the web-standard core (protocol/, pipeline/, models/, wasm/, payments/).
 *
 * @example
 * ```ts
 * import { jsonLogger, onShutdown, sleep, writePrivateFile } from "./mod.ts";
 *
 * const stop = onShutdown();
 * const logger = jsonLogger("example");
 * await writePrivateFile("/tmp/example.creds", "secret");
 * while (!stop.aborted) {
 *   logger.log("info", "still here");
 *   await sleep(1000, { signal: stop });
 * }
 * ```
 *
 * @module
 */
export { jsonLogger, type Logger, type LogLevel } from "./logger.ts";
export { writePrivateFile } from "./private_file.ts";
export { abortable, type AbortableOptions } from "./abortable.ts";
export { type ConnectionEnd, drainWithin, type DrainWithinOptions } from "./drain_within.ts";
export { onShutdown, type ShutdownOptions, watchParent } from "./shutdown.ts";
export { sleep, type SleepOptions } from "./sleep.ts";
export { retry, type RetryOptions } from "./retry.ts";
export { pooled, type PoolOptions } from "./pool.ts";
export { RateLimiter, type RateLimiterOptions } from "./rate_limiter.ts";
export {
  compareAndSwap,
  CompareAndSwapExhaustedError,
  type CompareAndSwapOptions,
  isRevisionConflict,
  type KvChange,
  type KvKey,
  RevisionConflictError,
  type Swapped,
} from "./kv_compare_and_swap.ts";
export { pathExists } from "./path_exists.ts";
