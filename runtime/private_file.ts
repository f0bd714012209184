/**
 * Writing secrets (keys, credentials) to files: mode 0600 from the start, through a temporary
 * file renamed into place, so no reader ever sees half a file and nobody else can read it.
 *
 * @example
 * ```ts
 * import { writePrivateFile } from "./private_file.ts";
 * await writePrivateFile("/tmp/device.creds", "-----BEGIN NATS USER JWT-----\n...");
 * ```
 *
 * @module
 */

/** Writes `data` to `path` with mode 0600, atomically (a temporary file renamed into place). */
export async function writePrivateFile(path: string, data: string | Uint8Array): Promise<void> {
  if (typeof path !== "string" || path === "") {
    throw new TypeError(`Cannot write a private file: path ${JSON.stringify(path)} is invalid`);
  }
  const tmp = `${path}.${crypto.randomUUID()}.tmp`;
  try {
    if (typeof data === "string") await Deno.writeTextFile(tmp, data, { mode: 0o600 });
    else await Deno.writeFile(tmp, data, { mode: 0o600 });
    // The mode given at creation is filtered by the umask: set it exactly.
    await Deno.chmod(tmp, 0o600);
    await Deno.rename(tmp, path);
  } catch (e) {
    // The temporary file may never have been made (the write failed first): what propagates is
    // the write's own failure, not the clean-up's.
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}
