/**
 * The firmware bundle form of `./vend build edge`: the Deno runtime for the target, the agent
 * and the supervisor bundled into JavaScript, their WASM, the default model, launchers, a
 * manifest with the SHA-256 of every file, and the same files as one tar.
 *
 * @module
 */
import { run, sha256, TARGETS } from "./_build_edge_tools.ts";
import { ROOT } from "./_repo_root.ts";

/** onnxruntime-web's WASM build (SIMD; threads when asked), loaded from beside the program. */
const ORT_FILES = ["ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm"];

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

/** Bundles the program at `entry` into one JavaScript file at `output`. */
function bundle(entry: string, output: string): Promise<string> {
  return run(
    Deno.execPath(),
    ["bundle", "--platform", "deno", "--frozen", "--output", output, entry],
    { cwd: ROOT },
  );
}

/** Copies the WASM the program loads (kernels, ffmpeg's core, onnxruntime-web) into `dir`. */
async function copyWasm(dir: string): Promise<void> {
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
}

/**
 * Copies the default recognition model (trained here by ./vend) into `dir`, so a device decides
 * carts out of the box; model updates replace it. Returns the files copied (none without one).
 */
async function copyModel(dir: string): Promise<string[]> {
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
  return modelFiles;
}

/** Writes the `vend-edge` and `vend-supervisor` launchers into `dir`. */
async function writeLaunchers(dir: string, target: keyof typeof TARGETS, version: string) {
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
}

/** Writes `dir/manifest.json`: every file of the bundle with its size and SHA-256. */
async function writeManifest(
  dir: string,
  build: { target: keyof typeof TARGETS; version: string; modelFiles: string[] },
) {
  const { target, version, modelFiles } = build;
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
    triple: TARGETS[target].triple,
    runtime: { deno: Deno.version.deno, package: TARGETS[target].npm },
    entry: "vend-edge",
    created: new Date().toISOString(),
    files,
  };
  await Deno.writeTextFile(`${dir}/manifest.json`, JSON.stringify(manifest, null, 2) + "\n");
}

/**
 * Builds the firmware bundle for `target` as `outDir/vend-edge-VERSION-TARGET` (an earlier one
 * replaced) and `….firmware.tar` beside it; resolves with the bundle's folder.
 */
export async function buildBundle(
  target: keyof typeof TARGETS,
  outDir: string,
  options: { version: string },
): Promise<string> {
  const { version } = options;
  const dir = `${outDir}/vend-edge-${version}-${target}`;
  await Deno.remove(dir, { recursive: true }).catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e; // no earlier build: nothing to remove
  });
  await Deno.mkdir(`${dir}/bin`, { recursive: true });
  await Deno.mkdir(`${dir}/app/build`, { recursive: true });
  await bundle(`${ROOT}edge/main.ts`, `${dir}/app/agent.js`);
  // The ffmpeg.wasm worker is a module of its own (a Worker loads it by URL), with the core's
  // .wasm beside it.
  await bundle(`${ROOT}wasm/_ffmpeg_worker_script.ts`, `${dir}/app/ffmpeg_worker.js`);
  await copyWasm(dir);
  const modelFiles = await copyModel(dir);
  await Deno.copyFile(await runtimeFor(target), `${dir}/bin/deno`);
  await Deno.chmod(`${dir}/bin/deno`, 0o755);
  // The supervisor: installed once (the factory image), it runs vend-edge from the A/B slots.
  await bundle(`${ROOT}edge/supervisor_main.ts`, `${dir}/app/supervisor.js`);
  await writeLaunchers(dir, target, version);
  await writeManifest(dir, { target, version, modelFiles });
  // The same files as one uncompressed tar: the agent component's artifact for remote updates
  // (uncompressed, so content-defined chunks line up between versions).
  await run("tar", ["-cf", `${dir}.firmware.tar`, "-C", dir, "."], { cwd: ROOT });
  return dir;
}
