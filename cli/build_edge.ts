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
import { sha256Hex } from "../protocol/mod.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const TARGETS = {
  x86_64: { triple: "x86_64-unknown-linux-gnu", npm: "@deno/linux-x64-glibc" },
  aarch64: { triple: "aarch64-unknown-linux-gnu", npm: "@deno/linux-arm64-glibc" },
} as const;

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

async function run(
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

async function sha256(path: string): Promise<string> {
  return await sha256Hex(await Deno.readFile(path));
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

/** The Deno runtime binary for a target, from its npm package (downloaded once into tools/). */
async function runtimeFor(target: keyof typeof TARGETS): Promise<string> {
  const pkg = TARGETS[target].npm;
  const dir = `${ROOT}tools/runtimes/${target}`;
  const bin = `${dir}/package/deno`;
  try {
    await Deno.stat(bin);
    return bin;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e; // not there yet: fetch it
  }
  await Deno.mkdir(dir, { recursive: true });
  const tgz = (await run("npm", ["pack", "--silent", `${pkg}@${Deno.version.deno}`], { cwd: dir }))
    .trim().split("\n").pop()!;
  await run("tar", ["-xzf", tgz], { cwd: dir });
  await Deno.remove(`${dir}/${tgz}`);
  await Deno.chmod(bin, 0o755);
  return bin;
}

/** onnxruntime-web's WASM build (SIMD; threads when asked), loaded from beside the program. */
const ORT_FILES = ["ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm"];

/** Builds the device program for `target` into `outDir`. */
export async function buildEdge(target: keyof typeof TARGETS, outDir: string): Promise<EdgeBuild> {
  const { triple } = TARGETS[target];
  const version = appVersion();
  await Deno.mkdir(outDir, { recursive: true });
  const rt = await denort(triple);
  if (rt) {
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
    return { kind: "compile", executable, dir: outDir };
  }

  const dir = `${outDir}/vend-edge-${version}-${target}`;
  await Deno.remove(dir, { recursive: true }).catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e; // no earlier build: nothing to remove
  });
  await Deno.mkdir(`${dir}/bin`, { recursive: true });
  await Deno.mkdir(`${dir}/app/build`, { recursive: true });
  const bundle = (entry: string, output: string) =>
    run(Deno.execPath(), ["bundle", "--platform", "deno", "--frozen", "--output", output, entry], {
      cwd: ROOT,
    });
  await bundle(`${ROOT}edge/main.ts`, `${dir}/app/agent.js`);
  // The ffmpeg.wasm worker is a module of its own (a Worker loads it by URL), with the core's
  // .wasm beside it.
  await bundle(`${ROOT}wasm/_ffmpeg_worker_script.ts`, `${dir}/app/ffmpeg_worker.js`);
  await Deno.copyFile(`${ROOT}wasm/build/kernels.wasm`, `${dir}/app/build/kernels.wasm`);
  await Deno.copyFile(
    new URL(import.meta.resolve("@ffmpeg/core/wasm")),
    `${dir}/app/build/ffmpeg-core.wasm`,
  );
  // onnxruntime-web loads its WASM build from beside the bundled program.
  const ortDist = new URL(".", import.meta.resolve("onnxruntime-web")).pathname;
  for (const f of ORT_FILES) {
    if (!f.endsWith(".mjs")) {
      await Deno.copyFile(`${ortDist}${f}`, `${dir}/app/${f}`);
      continue;
    }
    // Its Node.js built-ins are bare (`import("module")`, `require("fs")`); the runtime
    // without a package.json wants them as `node:` specifiers.
    const code = (await Deno.readTextFile(`${ortDist}${f}`))
      .replace(
        /(import|require)\("(module|fs|os|path|url|util|worker_threads)"\)/g,
        '$1("node:$2")',
      );
    await Deno.writeTextFile(`${dir}/app/${f}`, code);
  }
  // The default recognition model (trained here by ./vend), so a device decides carts out of
  // the box; model updates replace it.
  const model = `${ROOT}models/build/default`;
  const modelFiles: string[] = [];
  let modelJson: string | undefined;
  try {
    modelJson = await Deno.readTextFile(`${model}/model.json`);
  } catch (e) {
    // No default model built: the device waits for a model update. A model that is there but
    // broken (or cannot be copied) fails the build below instead of shipping without it.
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  if (modelJson !== undefined) {
    const m = JSON.parse(modelJson);
    await Deno.mkdir(`${dir}/app/model`, { recursive: true });
    for (const f of ["model.json", m.file]) {
      await Deno.copyFile(`${model}/${f}`, `${dir}/app/model/${f}`);
      modelFiles.push(`app/model/${f}`);
    }
  }
  await Deno.copyFile(await runtimeFor(target), `${dir}/bin/deno`);
  await Deno.chmod(`${dir}/bin/deno`, 0o755);
  // The supervisor: installed once (the factory image), it runs vend-edge from the A/B slots.
  await bundle(`${ROOT}edge/supervisor_main.ts`, `${dir}/app/supervisor.js`);
  const launcher = (name: string, script: string) =>
    `#!/bin/sh
# Vendstream ${name} ${version} (${target}): the Deno runtime and the bundled program.
here="$(cd "$(dirname "$0")" && pwd)"
export DENO_DIR="\${DENO_DIR:-\${VEND_DATA_DIR:-/tmp}/.deno}"
set -- run --no-config --no-lock --no-remote --no-npm --no-prompt -A "$here/app/${script}" "$@"
if [ "$(uname -m)" = "${target}" ]; then exec "$here/bin/deno" "$@"; fi
# Another architecture (a development machine): run under qemu user emulation when present.
if command -v qemu-${target}-static >/dev/null 2>&1; then exec qemu-${target}-static -L / "$here/bin/deno" "$@"; fi
echo "${name}: built for ${target}, this machine is $(uname -m) (install qemu-user-static to emulate)" >&2
exit 1
`;
  await Deno.writeTextFile(`${dir}/vend-edge`, launcher("vend-edge", "agent.js"));
  await Deno.chmod(`${dir}/vend-edge`, 0o755);
  await Deno.writeTextFile(`${dir}/vend-supervisor`, launcher("vend-supervisor", "supervisor.js"));
  await Deno.chmod(`${dir}/vend-supervisor`, 0o755);
  const files = [];
  for (
    const path of [
      "vend-edge",
      "vend-supervisor",
      "bin/deno",
      "app/agent.js",
      "app/supervisor.js",
      "app/ffmpeg_worker.js",
      "app/build/kernels.wasm",
      "app/build/ffmpeg-core.wasm",
      ...ORT_FILES.map((f) => `app/${f}`),
      ...modelFiles,
    ]
  ) {
    files.push({
      path,
      bytes: (await Deno.stat(`${dir}/${path}`)).size,
      sha256: await sha256(`${dir}/${path}`),
    });
  }
  const manifest = {
    name: "vend-edge",
    version,
    target,
    triple,
    runtime: { deno: Deno.version.deno, package: TARGETS[target].npm },
    entry: "vend-edge",
    created: new Date().toISOString(),
    files,
  };
  await Deno.writeTextFile(`${dir}/manifest.json`, JSON.stringify(manifest, null, 2) + "\n");
  // The same files as one uncompressed tar: the agent component's artifact for remote updates
  // (uncompressed, so content-defined chunks line up between versions).
  await run("tar", ["-cf", `${dir}.firmware.tar`, "-C", dir, "."], { cwd: ROOT });
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
