/**
 * `./vend bench infer`: the default slot model (models/build/default) on the same crops (a cart
 * decision's batch: the 36 slot crops of a 3-camera frame set, 3 samples before the door opened
 * and 3 after it closed, 216 crops; `--repeat 1` for one frame set) in onnxruntime-web (WASM, SIMD) with 1 and 2
 * threads and in onnxruntime-node (native): crops classified per second, their ratio, the time to
 * load a session, and the latency from a door closing to its cart decision with 3 cameras filmed
 * at 15 fps in real time from a second before the door opens to a second after it closes (the
 * recognizer classifies the open door's pictures in the background as they come, as on a device;
 * after the door closes it waits 400 ms for the light to settle, then classifies the rest and
 * decides the cart and the take/return events).
 * Each backend runs in a child process of its own (thread settings are per process).
 *
 * Progress goes to stderr; the last line of stdout is one JSON object.
 *
 * @example
 * ```sh
 * ./vend bench infer --seconds 5
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { loadModelDir } from "../cli/eval.ts";
import {
  createFrame,
  createFrameSet,
  type Frame,
  randomScenario,
  renderView,
  SessionRecognizer,
  simulatedPlanogram,
  SlotClassifier,
  slotCrops,
} from "../pipeline/mod.ts";
import { loadWasmKernels } from "../wasm/mod.ts";
import { onnxRuntime, readModelDir } from "../edge/agent/mod.ts";
import { machine, percentile } from "./_machine.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    seconds: { type: "string", default: "5" },
    model: { type: "string", default: "models/build/default" },
    child: { type: "string" },
    sessions: { type: "string", default: "20" },
    repeat: { type: "string", default: "6" },
  },
});
const SECONDS = Number(values.seconds);
const MODEL = values.model;
const ROOT = new URL("../", import.meta.url).pathname;
const log = (s: string) => console.error(`bench infer: ${s}`);

async function crops(): Promise<{ batch: Float32Array; n: number; size: number }> {
  const kernels = await loadWasmKernels();
  const manifest = JSON.parse(await Deno.readTextFile(`${MODEL}/model.json`));
  const scenario = randomScenario(4_000_001);
  const planogram = simulatedPlanogram(scenario);
  const parts: Float32Array[] = [];
  for (const cam of scenario.cameras) {
    const data = renderView(scenario, cam.cameraId, 500, { width: 640, height: 480 });
    const regions = planogram.slots.flatMap((s) => s.regions[cam.cameraId] ?? []);
    parts.push(slotCrops({ data, width: 640, height: 480 }, regions, {
      kernels,
      size: manifest.input.size,
      mean: manifest.input.mean,
      std: manifest.input.std,
    }));
  }
  const batch = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) (batch.set(p, at), at += p.length);
  const size = manifest.input.size;
  // A decision classifies 3 samples before and 3 after of every camera's slots in one batch.
  const repeat = Number(values.repeat);
  const all = new Float32Array(batch.length * repeat);
  for (let i = 0; i < repeat; i++) all.set(batch, i * batch.length);
  return { batch: all, n: all.length / (3 * size * size), size };
}

/** One backend: load time and crops/s. Runs in a child process. */
async function measure(kind: string): Promise<Record<string, number>> {
  const [backend, threadsText] = kind.split(":");
  const threads = Number(threadsText);
  // The device's own runtime set-up and model reader.
  const ort = await onnxRuntime(backend === "native" ? "native" : "wasm", threads);
  const files = await readModelDir(MODEL!);
  const { batch, n } = await crops();
  const t0 = performance.now();
  await using model = await SlotClassifier.load(ort, files);
  const loadMs = performance.now() - t0;
  for (let i = 0; i < 5; i++) await model.classify(batch, n); // warm up
  let done = 0;
  const start = performance.now();
  while (performance.now() - start < SECONDS * 1000) {
    await model.classify(batch, n);
    done += n;
  }
  const ips = done / ((performance.now() - start) / 1000);
  return { load_ms: loadMs, ips, batch: n };
}

/** Door close to cart decision, 3 cameras at 15 fps in real time, WASM 1 thread. */
async function closeToCart(sessions: number): Promise<number[]> {
  const kernels = await loadWasmKernels();
  const model = await loadModelDir(MODEL);
  const out: number[] = [];
  for (let i = 0; i < sessions; i++) {
    const scenario = randomScenario(4_100_000 + i);
    const s = scenario.sessions[0]!;
    const recognizer = new SessionRecognizer(model, simulatedPlanogram(scenario), { kernels });
    // Frames rendered ahead (the camera's work), delivered at 15 fps on the wall clock.
    const times: number[] = [];
    for (let t = s.openAt - 1000; t < s.openAt; t += 1000 / 15) times.push(t);
    const open: number[] = [];
    for (let t = s.openAt; t < s.closeAt; t += 1000 / 15) open.push(t);
    const after: number[] = [];
    for (let t = s.closeAt; t <= s.closeAt + 1200; t += 1000 / 15) after.push(t);
    const render = (t: number) => {
      const frames = new Map<string, Frame>();
      for (const cam of scenario.cameras) {
        frames.set(
          cam.cameraId,
          createFrame({
            cameraId: cam.cameraId,
            deviceId: cam.deviceId,
            seq: 0,
            ts: t,
            width: 640,
            height: 480,
            format: "rgba",
            data: renderView(scenario, cam.cameraId, t, { width: 640, height: 480 }),
          }),
        );
      }
      return createFrameSet(t, frames, []);
    };
    for (const t of times) {
      using set = render(t);
      recognizer.observe(set);
    }
    const opened = open.map(render);
    const prepared = after.map(render);
    // Scenario time maps onto the wall clock from the door's opening, then from its closing.
    recognizer.open({ sessionId: s.id, openedAt: s.openAt });
    const openedWall = performance.now();
    for (const set of opened) {
      const wait = openedWall + (set.ts - s.openAt) - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      recognizer.observe(set);
      set[Symbol.dispose]();
    }
    const closing = openedWall + (s.closeAt - s.openAt) - performance.now();
    if (closing > 0) await new Promise((r) => setTimeout(r, closing));
    const closedWall = performance.now();
    const deciding = recognizer.decide({
      sessionId: s.id,
      openedAt: s.openAt,
      closedAt: s.closeAt,
    });
    let decidedAt = NaN;
    deciding.then(() => (decidedAt = performance.now()));
    for (const set of prepared) {
      const due = closedWall + (set.ts - s.closeAt);
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      recognizer.observe(set);
      set[Symbol.dispose]();
      if (!Number.isNaN(decidedAt)) break;
    }
    await deciding;
    out.push(decidedAt - closedWall);
  }
  await model[Symbol.asyncDispose]();
  return out;
}

if (values.child) {
  console.log(JSON.stringify(await measure(values.child)));
  Deno.exit(0);
}

async function child(kind: string): Promise<Record<string, number>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--frozen",
      `${ROOT}bench/infer.ts`,
      "--child",
      kind,
      "--seconds",
      String(SECONDS),
      "--model",
      MODEL!,
      "--repeat",
      values.repeat!,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1) ?? "";
  if (!out.success) throw new Error(`${kind} failed: ${text}`);
  return JSON.parse(text);
}

const results: Record<string, Record<string, number>> = {};
for (const kind of ["wasm:1", "wasm:2", "native:1", "native:2"]) {
  log(`measuring ${kind}`);
  results[kind] = await child(kind);
  log(
    `${kind}: ${results[kind]!.ips!.toFixed(0)} crops/s, load ${
      results[kind]!.load_ms!.toFixed(0)
    } ms`,
  );
}
log(`door close to cart, ${values.sessions} sessions`);
const latencies = await closeToCart(Number(values.sessions));
const r = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const wasmBest = Math.max(results["wasm:1"]!.ips!, results["wasm:2"]!.ips!);
const nativeBest = Math.max(results["native:1"]!.ips!, results["native:2"]!.ips!);
console.log(JSON.stringify({
  bench: "infer",
  machine: machine(),
  model: MODEL,
  batch: results["wasm:1"]!.batch,
  wasm_1t_ips: r(results["wasm:1"]!.ips!),
  wasm_2t_ips: r(results["wasm:2"]!.ips!),
  native_ips: r(results["native:1"]!.ips!),
  native_2t_ips: r(results["native:2"]!.ips!),
  wasm_to_native_ratio: r(wasmBest / nativeBest, 3),
  wasm_to_native_ratio_1t: r(results["wasm:1"]!.ips! / results["native:1"]!.ips!, 3),
  load_ms: r(results["wasm:1"]!.load_ms!),
  native_load_ms: r(results["native:1"]!.load_ms!),
  close_to_cart_ms_p50: r(percentile(latencies, 50)),
  close_to_cart_ms_p99: r(percentile(latencies, 99)),
  sessions: latencies.length,
}));
