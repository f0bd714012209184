// The secondary device of the pipeline benchmark, as its own process: it syncs its clock (50 ms
// behind the primary's) with the primary over NATS through 10 ms of network jitter, then replays
// pre-rendered frames of cam-3 in real time, stamped on the primary's clock, as I420 over NATS.
// Private to bench/. Args: NATS_URL START_TS SECONDS FPS WIDTH HEIGHT PHASE_MS OFFSET_MS
import { connectNats } from "../cloud/mod.ts";
import { natsClockProbe, natsPublisher } from "../edge/delivery/mod.ts";
import {
  type ClockProbe,
  createFrame,
  prng,
  randomScenario,
  remoteFrameSink,
  renderView,
  runClockSync,
} from "../pipeline/mod.ts";
import { loadWasmKernels } from "../wasm/mod.ts";
import { sleep } from "../runtime/mod.ts";

const [url, startArg, secondsArg, fpsArg, wArg, hArg, phaseArg, offsetArg] = Deno.args;
// The credentials and CA come from the environment the benchmark gives this process.
const target = {
  url: url!,
  ...(Deno.env.get("NATS_CREDS") ? { credentialsFile: Deno.env.get("NATS_CREDS")! } : {}),
  ...(Deno.env.get("NATS_CA") ? { caFile: Deno.env.get("NATS_CA")! } : {}),
};
const start = Number(startArg);
const seconds = Number(secondsArg);
const fps = Number(fpsArg);
const width = Number(wArg);
const height = Number(hArg);
const phase = Number(phaseArg);
const offset = Number(offsetArg);
const period = 1000 / fps;
const localNow = () => Date.now() - offset; // this device's clock runs `offset` ms behind

const nc = await connectNats(target, { name: "bench-secondary" });
const rand = prng(77);
const base = natsClockProbe(nc, { region: "local", deviceId: "m001-a" }, { deviceId: "m001-b" });
const probe: ClockProbe = {
  async exchange(t0, options) {
    await sleep(rand() * 5);
    const r = await base.exchange(t0, options);
    await sleep(rand() * 5);
    return r;
  },
};
const stop = new AbortController();
const model = await runClockSync(probe, {
  now: localNow,
  burst: 16,
  intervalMs: 500,
  signal: stop.signal,
});

// Pre-render two seconds of frames; the replay cycles through them.
const scenario = randomScenario(5);
const rendered = Array.from(
  { length: Math.round(fps * 2) },
  (_, i) => renderView(scenario, "cam-3", 1000 + i * period, { width, height }),
);
const kernels = await loadWasmKernels();
const sink = remoteFrameSink(natsPublisher(nc), {
  device: { region: "local", deviceId: "m001-b" },
  toReference: (ts) => model.toReference(ts),
  kernels,
});
const writer = sink.getWriter();
console.log(JSON.stringify({ ready: true, offsetEstimateMs: model.estimate(localNow()).offsetMs }));

const frames = Math.floor(seconds * fps);
for (let seq = 0; seq < frames; seq++) {
  const due = start + seq * period + phase; // true capture time, on the primary's clock
  const wait = due - Date.now();
  if (wait > 0) await sleep(wait);
  const data = rendered[seq % rendered.length]!.slice(); // the capture's copy
  await writer.write(createFrame({
    cameraId: "cam-3",
    deviceId: "m001-b",
    seq,
    ts: due - offset, // stamped on this device's clock
    width,
    height,
    format: "rgba",
    data,
  }));
}
await writer.close();
console.log(JSON.stringify({ done: true, offsetEstimateMs: model.estimate(localNow()).offsetMs }));
stop.abort();
await nc.drain();
