/**
 * `./vend bench pipeline`: the pipeline core on this machine.
 *
 * - Pixel kernels at 640x480: megapixels/s of the TypeScript reference, of WASM with frames
 *   copied in and out, and of WASM on resident frames (how the pipeline uses them); colour
 *   conversion also through the system ffmpeg (swscale) on the same frames.
 * - Frame sync alone: frame sets/s.
 * - The synthetic camera's own render cost.
 * - A live run: 3 cameras at 640x480, 15 fps, for `--seconds` (default 30): cam-1 and cam-2 on
 *   this (primary) process, cam-3 on a separate secondary process whose clock is 50 ms behind,
 *   synced over NATS through 10 ms of network jitter, its frames sent as I420 over NATS. Frames
 *   are pre-rendered and replayed in real time, so the figures are the pipeline's own cost:
 *   achieved fps per camera, drops, CPU seconds per second of this process, peak RSS, and the
 *   worst true capture-time skew of complete frame sets.
 *
 * Progress goes to stderr; the last line of stdout is one JSON object.
 *
 * @example
 * ```sh
 * ./vend bench pipeline --seconds 30
 * ```
 *
 * @module
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { connectNats } from "../cloud/mod.ts";
import { startLocalNats } from "../cloud/dev/mod.ts";
import { natsMessages, serveClock } from "../edge/delivery/mod.ts";
import {
  createFrame,
  type Frame,
  FrameSync,
  FrameSyncCore,
  liveQueue,
  mergeStreams,
  MetricsRegistry,
  randomScenario,
  remoteSource,
  renderView,
  validateFrames,
} from "../pipeline/mod.ts";
import { subjects } from "../protocol/mod.ts";
import { loadWasmKernels, type PixelKernels, referenceKernels } from "../wasm/mod.ts";
import { machine, peakRssMb } from "./_machine.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { seconds: { type: "string", default: "30" } },
});
const SECONDS = Number(values.seconds);
if (!(SECONDS > 0)) throw new RangeError(`--seconds must be positive, got ${values.seconds}`);
const W = 640;
const H = 480;
const FPS = 15;
const log = (s: string) => console.error(s);

// ---------------------------------------------------------------------------------------------
// Kernels
const wasm = await loadWasmKernels();
const scenario = randomScenario(5);
const rgbaData = renderView(scenario, "cam-1", 1500, { width: W, height: H });
const rgba = { data: rgbaData, width: W, height: H };
const i420 = referenceKernels.rgbaToI420(rgba);
const prevY = renderView(scenario, "cam-1", 1600, { width: W, height: H });
const yPrev = referenceKernels.rgbaToI420({ data: prevY, width: W, height: H }).data.slice(
  0,
  W * H,
);
const norm = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] } as const;
const LB = { width: 320, height: 320 };

function mpixPerS(fn: () => unknown, pixels: number, ms = 800): number {
  for (let i = 0; i < 3; i++) fn();
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < ms) {
    fn();
    n++;
  }
  return (n * pixels) / 1e6 / ((performance.now() - t0) / 1000);
}

type Kernel = "rgba_to_i420" | "i420_to_rgba" | "letterbox" | "rgba_to_nchw" | "motion";
interface Buffers {
  i420: Uint8Array;
  rgba: Uint8Array;
  lb: Uint8Array;
  nchw: Float32Array;
}
const plain: Buffers = {
  i420: new Uint8Array(i420.data.length),
  rgba: new Uint8Array(W * H * 4),
  lb: new Uint8Array(LB.width * LB.height * 4),
  nchw: new Float32Array(W * H * 3),
};
const calls = (
  k: PixelKernels,
  bufs: Buffers,
  src: { rgba: Uint8Array; i420: Uint8Array; y: Uint8Array; yPrev: Uint8Array },
) => ({
  rgba_to_i420: () => k.rgbaToI420({ data: src.rgba, width: W, height: H }, { into: bufs.i420 }),
  i420_to_rgba: () => k.i420ToRgba({ data: src.i420, width: W, height: H }, { into: bufs.rgba }),
  letterbox: () => k.letterbox({ data: src.rgba, width: W, height: H }, LB, { into: bufs.lb }),
  rgba_to_nchw: () =>
    k.rgbaToNchw({ data: src.rgba, width: W, height: H }, { ...norm, into: bufs.nchw }),
  motion: () => k.motionScore(src.y, src.yPrev),
});
const plainSrc = { rgba: rgbaData, i420: i420.data, y: i420.data.subarray(0, W * H), yPrev };
// Resident: frames and outputs live in the kernels' memory (no copies), as in the pipeline.
const blocks = {
  rgba: wasm.allocate(W * H * 4),
  i420: wasm.allocate(i420.data.length),
  yPrev: wasm.allocate(W * H),
  outI420: wasm.allocate(i420.data.length),
  outRgba: wasm.allocate(W * H * 4),
  outLb: wasm.allocate(LB.width * LB.height * 4),
  outNchw: wasm.allocate(W * H * 12),
};
blocks.rgba.bytes.set(rgbaData);
blocks.i420.bytes.set(i420.data);
blocks.yPrev.bytes.set(yPrev);
const residentBufs = () => ({
  i420: blocks.outI420.bytes,
  rgba: blocks.outRgba.bytes,
  lb: blocks.outLb.bytes,
  nchw: blocks.outNchw.floats,
});
const residentSrc = () => ({
  rgba: blocks.rgba.bytes,
  i420: blocks.i420.bytes,
  y: blocks.i420.bytes.subarray(0, W * H),
  yPrev: blocks.yPrev.bytes,
});

const kernels: Record<string, { ts: number; wasm_copy: number; wasm: number; ratio: number }> = {};
const pixels = W * H;
for (
  const name of ["rgba_to_i420", "i420_to_rgba", "letterbox", "rgba_to_nchw", "motion"] as Kernel[]
) {
  const ts = mpixPerS(calls(referenceKernels, plain, plainSrc)[name], pixels);
  const copy = mpixPerS(calls(wasm, plain, plainSrc)[name], pixels);
  const resident = mpixPerS(calls(wasm, residentBufs(), residentSrc())[name], pixels);
  kernels[name] = {
    ts: Math.round(ts),
    wasm_copy: Math.round(copy),
    wasm: Math.round(resident),
    ratio: Number((resident / ts).toFixed(2)),
  };
  log(
    `kernel ${name}: TS ${ts.toFixed(0)}, WASM copying ${copy.toFixed(0)}, WASM resident ${
      resident.toFixed(0)
    } Mpix/s`,
  );
}

// Colour conversion through the system ffmpeg (swscale), the same frame 300 times through a pipe.
async function swscaleMpixPerS(): Promise<number> {
  const frames = 300;
  const child = new Deno.Command("ffmpeg", {
    args: [
      "-hide_banner",
      "-loglevel",
      "error",
      "-f",
      "rawvideo",
      "-pix_fmt",
      "rgba",
      "-s",
      `${W}x${H}`,
      "-i",
      "pipe:0",
      "-pix_fmt",
      "yuv420p",
      "-f",
      "rawvideo",
      "pipe:1",
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const t0 = performance.now();
  const drained = new Response(child.stdout).arrayBuffer();
  const w = child.stdin.getWriter();
  for (let i = 0; i < frames; i++) await w.write(rgbaData);
  await w.close();
  const out = await drained;
  await child.status;
  if (out.byteLength !== frames * i420.data.length) {
    throw new Error(`swscale produced ${out.byteLength} bytes`);
  }
  return (frames * pixels) / 1e6 / ((performance.now() - t0) / 1000);
}
const swscale = await swscaleMpixPerS();
log(`swscale rgba->yuv420p through a pipe: ${swscale.toFixed(0)} Mpix/s`);

// ---------------------------------------------------------------------------------------------
// Frame sync alone
function syncRate(): number {
  const cams = ["cam-1", "cam-2", "cam-3"];
  const core = new FrameSyncCore({ cameras: cams.map((cameraId) => ({ cameraId, fps: FPS })) });
  const data = new Uint8Array(16);
  const n = 20_000;
  let sets = 0;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) {
      const ts = 1_000_000 + i * (1000 / FPS) + c * 3;
      const out = core.push(
        createFrame({
          cameraId: cams[c]!,
          deviceId: "d",
          seq: i,
          ts,
          width: 2,
          height: 2,
          format: "rgba",
          data,
        }),
        ts,
      );
      for (const o of out) if (o.kind === "set") sets++;
    }
  }
  return sets / ((performance.now() - t0) / 1000);
}
const framesetsPerS = syncRate();
log(`frame sync alone: ${framesetsPerS.toFixed(0)} frame sets/s`);

// Renderer cost, reported separately from the pipeline's.
const renderT0 = performance.now();
const RENDERED = Math.round(FPS * 2);
const prerendered = ["cam-1", "cam-2"].map((cam) =>
  Array.from(
    { length: RENDERED },
    (_, i) => renderView(scenario, cam, 1000 + (i * 1000) / FPS, { width: W, height: H }),
  )
);
const renderMsPerFrame = (performance.now() - renderT0) / (2 * RENDERED);
log(`synthetic camera render: ${renderMsPerFrame.toFixed(1)} ms per 640x480 frame`);

// ---------------------------------------------------------------------------------------------
// Live run
const dataDir = await Deno.makeTempDir({ prefix: "vend-bench-pipeline-" });
const nats = await startLocalNats({ dataDir });
const nc = await connectNats(nats, { name: "bench-primary" });
const stop = new AbortController();
await serveClock(nc, { region: "local", deviceId: "m001-a" }, {
  signal: stop.signal,
  now: () => Date.now(),
});
const messages = natsMessages(
  nc,
  subjects.frames({ region: "local", deviceId: "m001-b" }, "cam-3"),
  { signal: stop.signal, capacity: 4 },
);
await messages.ready;

const PHASE: Record<string, number> = { "cam-1": 0, "cam-2": 3, "cam-3": 7 };
const OFFSET = 50;
const start = Date.now() + 4000; // time for the secondary to render and sync
const secondary = new Deno.Command(Deno.execPath(), {
  env: { NATS_CREDS: nats.credentialsFile!, NATS_CA: nats.caFile! },
  args: [
    "run",
    "-A",
    "--frozen",
    new URL("./_secondary.ts", import.meta.url).pathname,
    nats.url,
    String(start),
    String(SECONDS),
    String(FPS),
    String(W),
    String(H),
    String(PHASE["cam-3"]),
    String(OFFSET),
  ],
  stdout: "piped",
  stderr: "inherit",
}).spawn();
const secondaryOut = new Response(secondary.stdout).text();

/** Replays pre-rendered frames in real time, copying each as a capture would. */
function replay(cameraId: string, frames: Uint8Array[]): ReadableStream<Frame> {
  let seq = 0;
  const total = Math.floor(SECONDS * FPS);
  return new ReadableStream<Frame>({
    async pull(controller) {
      if (seq >= total) return controller.close();
      const due = start + seq * (1000 / FPS) + PHASE[cameraId]!;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const data = frames[seq % frames.length]!.slice();
      controller.enqueue(
        createFrame({
          cameraId,
          deviceId: "m001-a",
          seq: seq++,
          ts: due,
          width: W,
          height: H,
          format: "rgba",
          data,
        }),
      );
    },
  }, new CountQueuingStrategy({ highWaterMark: 0 }));
}

const metrics = new MetricsRegistry();
const camFormats = new Map<string, { width: number; height: number; format: "rgba" | "i420" }>([
  ["cam-1", { width: W, height: H, format: "rgba" }],
  ["cam-2", { width: W, height: H, format: "rgba" }],
  ["cam-3", { width: W, height: H, format: "i420" }],
]);
const queued = (cameraId: string, source: ReadableStream<Frame>) => {
  const q = liveQueue<Frame>(4, { metrics: metrics.stage(`${cameraId}_queue`) });
  source.pipeTo(q.writable).catch(() => {});
  return q.readable;
};
const sources = [
  queued("cam-1", replay("cam-1", prerendered[0]!)),
  queued("cam-2", replay("cam-2", prerendered[1]!)),
  queued(
    "cam-3",
    remoteSource(messages, { cameraId: "cam-3", metrics: metrics.stage("cam-3_remote") }),
  ),
];
const sync = new FrameSync({
  cameras: ["cam-1", "cam-2", "cam-3"].map((cameraId) => ({ cameraId, fps: FPS })),
  metrics: metrics.stage("frame_sync"),
});
const piped = mergeStreams(sources)
  .pipeThrough(validateFrames(camFormats, { metrics: metrics.stage("validate") }))
  .pipeTo(sync.writable)
  .catch(() => {});

const perCamera = new Map<string, number>();
let sets = 0;
let complete = 0;
let maxTrueSkew = 0;
let maxStampSkew = 0;
let cpuStart: ReturnType<typeof process.cpuUsage> | undefined;
let wallStart = 0;
const readySecondary = (async () => {
  await new Promise((r) => setTimeout(r, Math.max(0, start - Date.now())));
  cpuStart = process.cpuUsage();
  wallStart = performance.now();
})();
// At the end of the run the remote source's subscription stops, the merge ends and the sync flushes.
const deadline = setTimeout(() => stop.abort(), start + SECONDS * 1000 + 1500 - Date.now());
for await (const set of sync.readable) {
  using s = set;
  if (!cpuStart) continue;
  sets++;
  for (const f of s.frames.values()) {
    perCamera.set(f.cameraId, (perCamera.get(f.cameraId) ?? 0) + 1);
  }
  if (s.frames.size === 3) {
    complete++;
    const truth = [...s.frames.values()].map((f) =>
      start + f.seq * (1000 / FPS) + PHASE[f.cameraId]!
    );
    maxTrueSkew = Math.max(maxTrueSkew, Math.max(...truth) - Math.min(...truth));
    maxStampSkew = Math.max(maxStampSkew, s.skewMs);
  }
}
clearTimeout(deadline);
await readySecondary;
const wall = (performance.now() - wallStart) / 1000;
const cpu = process.cpuUsage(cpuStart);
const cpuCores = (cpu.user + cpu.system) / 1e6 / wall;
stop.abort();
await piped;
const secondaryStatus = await secondary.status;
if (!secondaryStatus.success) {
  throw new Error(`the secondary device process failed (exit ${secondaryStatus.code})`);
}
const secondaryReport = (await secondaryOut).trim().split("\n").map((l) => JSON.parse(l));
await nc.close();
await nats.stop();
await Deno.remove(dataDir, { recursive: true });

const fpsByCamera = Object.fromEntries(
  [...perCamera].map(([k, v]) => [k, Number((v / SECONDS).toFixed(2))]),
);
const drops = metrics.snapshot().reduce((a, s) => a + s.drops, 0);
log(
  `live: ${sets} sets (${complete} complete), fps ${JSON.stringify(fpsByCamera)}, CPU ${
    cpuCores.toFixed(3)
  } cores, drops ${drops}`,
);
log(
  `skew: true ${maxTrueSkew.toFixed(1)} ms, stamped ${
    maxStampSkew.toFixed(1)
  } ms; secondary offset estimate ${JSON.stringify(secondaryReport.at(-1))}`,
);

const ratios = Object.values(kernels).map((k) => k.ratio);
const copyRatios = Object.values(kernels).map((k) => k.wasm_copy / k.ts);
console.log(JSON.stringify({
  bench: "pipeline",
  seconds: SECONDS,
  wasm_vs_ts_min_ratio: Math.min(...ratios),
  wasm_copy_vs_ts_min_ratio: Number(Math.min(...copyRatios).toFixed(2)),
  max_skew_ms: Number(maxTrueSkew.toFixed(2)),
  max_stamp_skew_ms: Number(maxStampSkew.toFixed(2)),
  live_fps_min: Math.min(...["cam-1", "cam-2", "cam-3"].map((c) => fpsByCamera[c] ?? 0)),
  live_fps: fpsByCamera,
  live_cpu_cores: Number(cpuCores.toFixed(3)),
  live_sets: sets,
  live_complete_sets: complete,
  live_drops: drops,
  rss_mb: peakRssMb(),
  kernels_mpix_s: kernels,
  swscale_rgba_to_i420_mpix_s: Math.round(swscale),
  framesets_s: Math.round(framesetsPerS),
  render_ms_per_frame: Number(renderMsPerFrame.toFixed(2)),
  secondary_offset_estimate_ms: Number(
    (secondaryReport.at(-1)?.offsetEstimateMs ?? NaN).toFixed(2),
  ),
  machine: machine(),
}));
Deno.exit(0);
