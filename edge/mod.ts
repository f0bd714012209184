/**
 * The device runtime (agent) of Vendstream: one program per device that runs the pipeline,
 * keeps an offline outbox, obeys remote commands and updates itself safely. It is built by the
 * edge issue; the folder exists so that the layout and its public surface are fixed from the
 * start. Nothing is exported yet.
 *
 * @example
 * ```ts
 * import * as edge from "./mod.ts";
 * console.log(Object.keys(edge)); // [] until the agent lands
 * ```
 *
 * @module
 */
export {};
