/**
 * What the steps of `./vend build edge` share: the targets, running a tool, and the SHA-256 of a file.
 *
 * @module
 */
import { sha256Hex } from "../protocol/mod.ts";

/** The targets a build is for: their Rust-style triple and the npm package of their Deno. */
export const TARGETS = {
  x86_64: { triple: "x86_64-unknown-linux-gnu", npm: "@deno/linux-x64-glibc" },
  aarch64: { triple: "aarch64-unknown-linux-gnu", npm: "@deno/linux-arm64-glibc" },
} as const;

/** Runs `cmd` with `args`; resolves with its stdout, throws with the end of its stderr. */
export async function run(
  cmd: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped", ...options })
    .output();
  if (!out.success) {
    throw new Error(
      `${cmd} ${args.join(" ")} failed: ${
        new TextDecoder().decode(out.stderr).trim().split("\n").slice(-5).join("\n")
      }`,
    );
  }
  return new TextDecoder().decode(out.stdout);
}

/** The SHA-256 of the file at `path`, as hex. */
export async function sha256(path: string): Promise<string> {
  return await sha256Hex(await Deno.readFile(path));
}
