/**
 * `./vend build edge --target x86_64|aarch64 [--out DIR]`: builds the device program.
 *
 * When the Deno runtime that `deno compile` embeds (denort) can be had (`DENORT_BIN`, or the
 * zip for the target in `$DENO_DIR/dl/release/vVERSION/`), it makes one executable with
 * `deno compile`. Otherwise it makes a firmware bundle: the Deno runtime for the target (from
 * the npm package @deno/linux-x64-glibc or @deno/linux-arm64-glibc), the agent bundled into one
 * JavaScript file (`deno bundle`), its WASM, a launcher, and a manifest with the SHA-256 of
 * every file. Either form starts with one command: `DIR/vend-edge --config agent.json`.
 *
 * Prints `artifact: PATH` and `kind: compile|bundle` on stdout.
 *
 * @example
 * ```sh
 * ./vend build edge --target aarch64 --out dist/
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { buildBundle } from "./_build_edge_bundle.ts";
import { run, sha256, TARGETS } from "./_build_edge_tools.ts";
import { ROOT } from "./_repo_root.ts";

/** What a build produced. */
export interface EdgeBuild {
  /** The bundle as one tar, the artifact of the `agent` component (bundles only). */
  readonly firmware?: string;
  /** `compile` (one executable) or `bundle` (runtime + bundled program). */
  readonly kind: "compile" | "bundle";
  /** The executable to start (in the folder of a bundle). */
  readonly executable: string;
  /** The folder holding the artifact. */
  readonly dir: string;
}

function appVersion(): string {
  return Deno.env.get("VEND_APP_VERSION") ?? "0.1.0";
}

/** Where denort for `triple` can be found, if anywhere. */
async function denort(triple: string): Promise<string | undefined> {
  const explicit = Deno.env.get("DENORT_BIN");
  if (explicit) return explicit;
  const denoDir = Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME")}/.cache/deno`;
  const zip = `${denoDir}/dl/release/v${Deno.version.deno}/denort-${triple}.zip`;
  try {
    await Deno.stat(zip);
    return zip;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined; // not downloaded: none here
    throw e;
  }
}

/** One executable with `deno compile`, on denort `rt` (a zip, or a binary as `DENORT_BIN`). */
async function compileEdge(triple: string, outDir: string, rt: string): Promise<string> {
  const executable = `${outDir}/vend-edge`;
  const env: Record<string, string> = rt.endsWith(".zip") ? {} : { DENORT_BIN: rt };
  await run(Deno.execPath(), [
    "compile",
    "-A",
    "--frozen",
    "--target",
    triple,
    "--include",
    `${ROOT}wasm/build/kernels.wasm`,
    "--include",
    `${ROOT}wasm/_ffmpeg_worker_script.ts`,
    "--output",
    executable,
    `${ROOT}edge/main.ts`,
  ], { cwd: ROOT, env });
  return executable;
}

/** Builds the device program for `target` into `outDir`. */
export async function buildEdge(target: keyof typeof TARGETS, outDir: string): Promise<EdgeBuild> {
  const { triple } = TARGETS[target];
  const version = appVersion();
  await Deno.mkdir(outDir, { recursive: true });
  const rt = await denort(triple);
  if (rt) {
    const executable = await compileEdge(triple, outDir, rt);
    return { kind: "compile", executable, dir: outDir };
  }
  const dir = await buildBundle(target, outDir, { version });
  return { kind: "bundle", executable: `${dir}/vend-edge`, dir, firmware: `${dir}.firmware.tar` };
}

/** Checks a firmware bundle's files against its manifest; returns the problems (none when intact). */
export async function verifyBundle(dir: string): Promise<string[]> {
  const manifest = JSON.parse(await Deno.readTextFile(`${dir}/manifest.json`)) as {
    files: Array<{ path: string; bytes: number; sha256: string }>;
  };
  const problems: string[] = [];
  for (const f of manifest.files) {
    try {
      const digest = await sha256(`${dir}/${f.path}`);
      if (digest !== f.sha256) {
        problems.push(`${f.path}: SHA-256 ${digest}, manifest says ${f.sha256}`);
      }
    } catch (e) {
      problems.push(`${f.path}: ${(e as Error).message}`);
    }
  }
  return problems;
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    options: { target: { type: "string" }, out: { type: "string", default: `${ROOT}dist` } },
    allowPositionals: true,
  });
  const usage = "Usage: ./vend build edge --target x86_64|aarch64 [--out DIR]";
  if (positionals[0] !== "edge") {
    console.error(`build: unknown artifact ${JSON.stringify(positionals[0] ?? "")}\n${usage}`);
    Deno.exit(2);
  }
  const target = values.target ?? (Deno.build.arch === "aarch64" ? "aarch64" : "x86_64");
  if (!(target in TARGETS)) {
    console.error(`build: unknown target ${JSON.stringify(target)}\n${usage}`);
    Deno.exit(2);
  }
  const out = await buildEdge(target as keyof typeof TARGETS, values.out!);
  console.log(`artifact: ${out.executable}`);
  console.log(`kind: ${out.kind}`);
}
