/**
 * The streaming pipeline (Web Streams only, no `Deno.*`): camera sources, clock and frame sync,
 * encoding, inference and session events. Runtime specifics plug in from edge/. Built by the
 * pipeline issues; nothing is exported yet.
 *
 * @example
 * ```ts
 * import * as pipeline from "./mod.ts";
 * console.log(Object.keys(pipeline)); // [] until the stages land
 * ```
 *
 * @module
 */
export {};
