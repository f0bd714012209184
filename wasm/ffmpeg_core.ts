/**
 * Loads ffmpeg.wasm (npm @ffmpeg/core, single-threaded) from node_modules, with no network:
 * the core's JavaScript by import, its .wasm by fetch of the resolved file URL.
 *
 * @example
 * ```ts
 * import { loadFfmpegCore } from "./ffmpeg_core.ts";
 *
 * const ffmpeg = await loadFfmpegCore();
 * ffmpeg.FS.writeFile("/in.mp4", new Uint8Array(0));
 * const { code, log } = ffmpeg.run(["-i", "/in.mp4", "-f", "null", "-"]);
 * ```
 *
 * @module
 */

/** The parts of the emscripten module of @ffmpeg/core that Vendstream uses. */
export interface FfmpegCoreModule {
  /** The in-memory file system. */
  readonly FS: {
    writeFile(path: string, data: Uint8Array): void;
    readFile(path: string): Uint8Array;
    unlink(path: string): void;
    makedev(major: number, minor: number): number;
    registerDevice(dev: number, ops: FfmpegDeviceOps): void;
    mkdev(path: string, mode: number, dev: number): void;
    ErrnoError: new (errno: number) => Error;
  };
  exec(...args: string[]): number;
  /** The wasm exports (minified names). */
  asm: Record<string, unknown>;
  reset(): void;
  setLogger(logger: (entry: { type: string; message: string }) => void): void;
}

/** Stream operations of an emscripten character device (buffer is the wasm heap). */
export interface FfmpegDeviceOps {
  open?(stream: unknown): void;
  close?(stream: unknown): void;
  read?(stream: unknown, buffer: Int8Array, offset: number, length: number): number;
  write?(stream: unknown, buffer: Int8Array, offset: number, length: number): number;
}

/** A loaded ffmpeg.wasm instance. */
export interface FfmpegCore {
  /** The in-memory file system. */
  readonly FS: FfmpegCoreModule["FS"];
  /** Runs ffmpeg with `args`; returns its exit code and what it logged. */
  run(args: readonly string[]): { code: number; log: string[] };
}

/** ffmpeg.wasm could not be loaded. */
export class FfmpegLoadError extends Error {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "FfmpegLoadError";
  }
}

let wasmBinary: Promise<ArrayBuffer> | undefined;

/**
 * Where a firmware bundle ships the core's .wasm (beside the bundled script); in a checkout it
 * is read from node_modules.
 */
export const FFMPEG_CORE_WASM_URL: URL = new URL("./build/ffmpeg-core.wasm", import.meta.url);

async function coreWasm(): Promise<ArrayBuffer> {
  // Not shipped beside the script (a checkout): fetch fails with a TypeError (a file: URL that
  // is not there); then node_modules has it. Anything else throws.
  const shipped = await fetch(FFMPEG_CORE_WASM_URL).catch((e) => {
    if (!(e instanceof TypeError)) throw e;
    return undefined;
  });
  if (shipped?.ok) return await shipped.arrayBuffer();
  await shipped?.body?.cancel();
  const r = await fetch(import.meta.resolve("@ffmpeg/core/wasm"));
  if (!r.ok) throw new Error(`HTTP ${r.status}`);
  return await r.arrayBuffer();
}

/** Instantiates a fresh ffmpeg.wasm core (the .wasm bytes are fetched once and shared). */
export async function loadFfmpegCore(): Promise<FfmpegCore> {
  // The core computes its script directory from `location`; any URL will do.
  const g = globalThis as { location?: unknown };
  g.location ??= new URL("file:///");
  try {
    wasmBinary ??= coreWasm();
    const { default: create } = await import("@ffmpeg/core") as {
      default: (options: Record<string, unknown>) => Promise<FfmpegCoreModule>;
    };
    const module = await create({
      wasmBinary: await wasmBinary,
      print: () => {},
      printErr: () => {},
    });
    const stack = stackOf(module);
    let log: string[] = [];
    module.setLogger((entry) => log.push(entry.message));
    return {
      FS: module.FS,
      run(args) {
        log = [];
        module.reset();
        // ffmpeg leaves through exit(), which unwinds without restoring the C stack pointer:
        // each run would leak a little of the 64 KiB stack until a run overflows it (upstream
        // ffmpegwasm/ffmpeg.wasm#820, "memory access out of bounds" after ~150 runs).
        const sp = stack.save();
        try {
          const code = module.exec(...args);
          return { code, log };
        } finally {
          stack.restore(sp);
        }
      },
    };
  } catch (cause) {
    wasmBinary = undefined;
    throw new FfmpegLoadError(
      `Cannot load ffmpeg.wasm (@ffmpeg/core): ${(cause as Error).message}`,
      { cause },
    );
  }
}

/**
 * The core's stackSave/stackRestore exports. @ffmpeg/core 0.12.10 minifies them to `Da`/`Ea`
 * (its own JS wraps them under those names); checked, so another build fails at load instead
 * of corrupting memory.
 */
function stackOf(module: FfmpegCoreModule): {
  save(): number;
  restore(sp: number): void;
} {
  const save = module.asm["Da"];
  const restore = module.asm["Ea"];
  if (typeof save !== "function" || typeof restore !== "function") {
    throw new Error("this @ffmpeg/core build has no stackSave/stackRestore exports (Da/Ea)");
  }
  const sp = save() as number;
  restore(sp);
  if (typeof sp !== "number" || sp <= 0 || save() !== sp) {
    throw new Error("this @ffmpeg/core build's Da/Ea exports are not stackSave/stackRestore");
  }
  return { save: () => save() as number, restore: (p) => void restore(p) };
}
