/**
 * Whether a path exists, told apart from a check that failed: {@link pathExists} answers false
 * only for `NotFound`; any other failure of the stat (permissions, I/O) propagates, so that "the
 * check failed" is never read as "there is nothing there".
 *
 * @example
 * ```ts
 * import { pathExists } from "./path_exists.ts";
 *
 * if (!(await pathExists("/etc/vendstream/agent.json"))) console.log("not provisioned yet");
 * ```
 *
 * @module
 */

/** Whether `path` exists (a file, folder or anything else); rejects when it cannot be told. */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}
