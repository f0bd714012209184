/**
 * The repository's root folder (with a trailing slash), where the CLI finds the project's files.
 *
 * @module
 */

/** The repository's root folder, e.g. `/home/me/vendstream/`. */
export const ROOT: string = new URL("../", import.meta.url).pathname;
