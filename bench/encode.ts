/**
 * `./vend bench encode`: H.264 clip encoding, ffmpeg.wasm against the system ffmpeg, on the
 * same frames (the synthetic scene, with its sensor noise, converted to I420 by the wasm/
 * kernels, held in memory so only encoding is timed).
 *
 * - One clip at a time: frames/s of one encoder (WASM: one instance, single-threaded; native:
 *   one process at ffmpeg's default thread count).
 * - Three cameras at once, the shape of a door session: three clips encoded concurrently (WASM:
 *   a pool of three instances; native: three processes at their default thread count).
 *   `wasm_fps_*` and `native_fps_*` are these aggregate figures.
 * - Real time: three cameras at 640x480, 15 fps, paced for `--seconds`, through the WASM pool:
 *   whether it keeps up, and the CPU it takes (cores).
 * - Memory over 1,000 clips on one instance: RSS after the first 100 and after 1,000.
 *
 * @example
 * ```sh
 * ./vend bench encode --seconds 10
 * ```
 *
 * @module
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { NativeClipEncoder } from "../edge/recording/mod.ts";
import {
  type ClipEncoder,
  randomScenario,
  syntheticCamera,
  WasmClipEncoder,
} from "../pipeline/mod.ts";
import { loadWasmKernels } from "../wasm/mod.ts";
import { machine, peakRssMb } from "./_machine.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    seconds: { type: "string", default: "10" },
    frames: { type: "string", default: "150" },
    clips: { type: "string", default: "1000" },
  },
});
const SECONDS = Number(values.seconds);
const FRAMES = Number(values.frames);
const CLIPS = Number(values.clips);
for (const [k, v] of [["seconds", SECONDS], ["frames", FRAMES], ["clips", CLIPS]] as const) {
  if (!(Number.isInteger(v) && v > 0)) throw new RangeError(`--${k} must be a positive integer`);
}
const log = (s: string) => console.error(s);
const kernels = await loadWasmKernels();

async function frames(width: number, height: number, n: number): Promise<Uint8Array[]> {
  const cam = syntheticCamera(randomScenario(11), { cameraId: "cam-1", width, height, fps: 15 });
  const out: Uint8Array[] = [];
  for await (const f of cam) {
    using frame = f;
    out.push(kernels.rgbaToI420({ data: frame.data, width, height }).data);
    if (out.length === n) break;
  }
  return out;
}

async function clip(
  encoder: ClipEncoder,
  data: Uint8Array[],
  size: { width: number; height: number },
  pace?: number,
): Promise<{ frames: number; bytes: number; lateMs: number }> {
  const c = await encoder.open({ ...size, fps: 15 });
  const out = new Response(c.output).arrayBuffer();
  const t0 = performance.now();
  let lateMs = 0;
  for (const [i, f] of data.entries()) {
    if (pace) {
      const due = t0 + i * pace;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      else lateMs = Math.max(lateMs, -wait);
    }
    await c.write(f);
  }
  const r = await c.close();
  await out;
  return { ...r, lateMs };
}

async function fps(
  encoder: ClipEncoder,
  data: Uint8Array[],
  size: { width: number; height: number },
  streams: number,
): Promise<number> {
  const t0 = performance.now();
  const results = await Promise.all(
    Array.from({ length: streams }, () => clip(encoder, data, size)),
  );
  const s = (performance.now() - t0) / 1000;
  return Number((results.reduce((n, r) => n + r.frames, 0) / s).toFixed(1));
}

const sizes = [{ width: 640, height: 480 }, { width: 1280, height: 720 }] as const;
const result: Record<string, number> = {};
for (const size of sizes) {
  const name = `${size.width}x${size.height}`;
  const data = await frames(size.width, size.height, FRAMES);
  {
    await using wasm1 = new WasmClipEncoder({ instances: 1 });
    await clip(wasm1, data.slice(0, 10), size); // load the instance
    result[`wasm_1clip_fps_${name}`] = await fps(wasm1, data, size, 1);
  }
  {
    await using wasm3 = new WasmClipEncoder({ instances: 3 });
    await Promise.all([0, 1, 2].map(() => clip(wasm3, data.slice(0, 10), size)));
    result[`wasm_fps_${name}`] = await fps(wasm3, data, size, 3);
  }
  await using native = new NativeClipEncoder();
  result[`native_1clip_fps_${name}`] = await fps(native, data, size, 1);
  result[`native_fps_${name}`] = await fps(native, data, size, 3);
  result[`wasm_to_native_${name}`] = Number(
    (result[`wasm_fps_${name}`]! / result[`native_fps_${name}`]!).toFixed(2),
  );
  result[`wasm_to_native_1clip_${name}`] = Number(
    (result[`wasm_1clip_fps_${name}`]! / result[`native_1clip_fps_${name}`]!).toFixed(2),
  );
  log(`${name}: ${JSON.stringify(result)}`);
}

// Real time: 3 cameras at 640x480, 15 fps, paced.
const live = await frames(640, 480, 15 * SECONDS);
{
  await using pool = new WasmClipEncoder({ instances: 3 });
  await Promise.all([0, 1, 2].map(() => clip(pool, live.slice(0, 5), sizes[0])));
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const runs = await Promise.all(
    [0, 1, 2].map(() => clip(pool, live, sizes[0], 1000 / 15)),
  );
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  result.realtime_3cam_fps = Number((runs.reduce((n, r) => n + r.frames, 0) / wall).toFixed(1));
  result.realtime_3cam_max_late_ms = Math.round(Math.max(...runs.map((r) => r.lateMs)));
  result.realtime_3cam_cpu_cores = Number(((cpu.user + cpu.system) / 1e6 / wall).toFixed(2));
  log(`realtime: ${result.realtime_3cam_fps} fps, ${result.realtime_3cam_cpu_cores} cores`);
}

// Memory over many clips on one instance.
{
  await using one = new WasmClipEncoder({ instances: 1 });
  const small = await frames(320, 240, 5);
  let rss100 = 0;
  for (let i = 0; i < CLIPS; i++) {
    await clip(one, small, { width: 320, height: 240 });
    if (i === 99) rss100 = process.memoryUsage.rss();
    if (i % 100 === 99) {
      log(`clips: ${i + 1}, rss ${(process.memoryUsage.rss() / 2 ** 20).toFixed(0)} MB`);
    }
  }
  const rssEnd = process.memoryUsage.rss();
  result.clips = CLIPS;
  result.instances_started = one.started;
  result.rss_mb_after_100_clips = Math.round(rss100 / 2 ** 20);
  result[`rss_mb_after_${CLIPS}_clips`] = Math.round(rssEnd / 2 ** 20);
  result.rss_growth_mb = Math.round((rssEnd - rss100) / 2 ** 20);
}

console.log(JSON.stringify({
  bench: "encode",
  frames_per_clip: FRAMES,
  ...result,
  rss_mb: peakRssMb(),
  machine: machine(),
}));
Deno.exit(0);
