/**
 * Builds the AssemblyScript pixel kernels (wasm/assembly/) into wasm/build/kernels.wasm with
 * SIMD. `./vend` runs it whenever the sources changed; the .wasm is build output, never edited.
 *
 * @example
 * ```sh
 * ./vend deno run -A cli/build_wasm.ts
 * ```
 *
 * @module
 */
import asc from "assemblyscript/asc";
import { ROOT } from "./_repo_root.ts";

/** Compiles the kernels; throws with the compiler's output when it fails. */
export async function buildKernels(): Promise<string> {
  const outFile = `${ROOT}wasm/build/kernels.wasm`;
  await Deno.mkdir(`${ROOT}wasm/build`, { recursive: true });
  const tmp = `${outFile}.tmp`;
  let log = "";
  const sink = {
    write: (
      s: string | Uint8Array,
    ) => (log += typeof s === "string" ? s : new TextDecoder().decode(s), true),
  };
  const { error } = await asc.main(
    [
      `${ROOT}wasm/assembly/kernels.ts`,
      "--enable",
      "simd",
      "--runtime",
      "stub",
      "--noAssert",
      "-O3",
      "--outFile",
      tmp,
    ],
    { stdout: sink, stderr: sink },
  );
  if (error) throw new Error(`Cannot build wasm/assembly/kernels.ts: ${error.message}\n${log}`);
  await Deno.rename(tmp, outFile);
  return outFile;
}

if (import.meta.main) {
  const out = await buildKernels();
  console.error(`built ${out.slice(ROOT.length)}`);
}
