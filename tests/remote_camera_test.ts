import assert from "node:assert/strict";
import { natsClockProbe, natsMessages, natsPublisher, serveClock } from "../edge/delivery/mod.ts";
import {
  type ClockProbe,
  collectSignals,
  type FrameSet,
  FrameSync,
  mergeStreams,
  type PipelineSignal,
  prng,
  randomScenario,
  remoteFrameSink,
  remoteSource,
  runClockSync,
  syntheticCamera,
} from "../pipeline/mod.ts";
import { loadWasmKernels } from "../wasm/mod.ts";
import { subjects } from "../protocol/mod.ts";
import { startTestNats } from "./harness.ts";

const primary = { region: "local", deviceId: "m001-a" };
const secondary = { region: "local", deviceId: "m001-b" };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Adds 0-5 ms of random delay to each leg of a probe's exchange: 10 ms of network jitter. */
function jittery(probe: ClockProbe, seed: number): ClockProbe {
  const rand = prng(seed);
  return {
    async exchange(t0, options) {
      await sleep(rand() * 5);
      const r = await probe.exchange(t0, options);
      await sleep(rand() * 5);
      return r;
    },
  };
}

Deno.test("clock sync over NATS finds a secondary clock 50 ms off within 3 ms", async () => {
  await using nats = await startTestNats();
  await using a = await nats.connect("primary");
  await using b = await nats.connect("secondary");
  const stop = new AbortController();
  await serveClock(a, primary, { signal: stop.signal });
  const localNow = () => Date.now() - 50; // the secondary runs 50 ms behind
  const model = await runClockSync(jittery(natsClockProbe(b, primary, { deviceId: "m001-b" }), 1), {
    now: localNow,
    burst: 16,
    signal: stop.signal,
  });
  stop.abort();
  const estimate = model.estimate(localNow());
  assert.ok(Math.abs(estimate.offsetMs - 50) < 3, `offset ${estimate.offsetMs}`);
});

Deno.test("the secondary's camera joins the primary's frame sets over NATS within half a frame period", async () => {
  await using nats = await startTestNats();
  await using a = await nats.connect("primary");
  await using b = await nats.connect("secondary");
  const stop = new AbortController();
  await serveClock(a, primary, { signal: stop.signal });
  const offset = 50;
  const model = await runClockSync(jittery(natsClockProbe(b, primary, { deviceId: "m001-b" }), 2), {
    now: () => Date.now() - offset,
    burst: 16,
    signal: stop.signal,
  });

  const scenario = randomScenario(21);
  const fps = 15;
  const size = { width: 96, height: 72 };
  const start = Date.now() + 200;
  const kernels = await loadWasmKernels();
  // Primary side: receive cam-3 over NATS, merge with the local cameras, sync.
  const messages = natsMessages(a, subjects.frames(secondary, "cam-3"), { signal: stop.signal });
  await messages.ready;
  const signals: PipelineSignal[] = [];
  const sync = new FrameSync({
    cameras: ["cam-1", "cam-2", "cam-3"].map((cameraId) => ({ cameraId, fps })),
    signals: collectSignals(signals),
  });
  const local = ["cam-1", "cam-2"].map((cameraId) =>
    syntheticCamera(scenario, {
      cameraId,
      ...size,
      fps,
      startTs: start,
      realtime: true,
      stopAtMs: 2000,
    })
  );
  const remote = remoteSource(messages, { cameraId: "cam-3" });
  const piped = mergeStreams([...local, remote]).pipeTo(sync.writable).catch(() => {});
  // Secondary side: its camera stamps frames on its own clock, 50 ms behind.
  const sending = syntheticCamera(scenario, {
    cameraId: "cam-3",
    ...size,
    fps,
    startTs: start,
    clockOffsetMs: -offset,
    realtime: true,
    stopAtMs: 2000,
  }).pipeTo(
    remoteFrameSink(natsPublisher(b), {
      device: secondary,
      toReference: (ts) => model.toReference(ts),
      kernels,
    }),
  );

  const sets: FrameSet[] = [];
  const reader = sync.readable.getReader();
  while (sets.length < 25) {
    const { value, done } = await reader.read();
    if (done) break;
    sets.push(value);
  }
  await sending;
  stop.abort();
  reader.releaseLock();
  await sync.readable.cancel().catch(() => {});
  await piped;
  const full = sets.filter((s) => s.frames.size === 3);
  assert.ok(full.length >= 20, `only ${full.length} of ${sets.length} sets have all 3 cameras`);
  const worst = Math.max(...full.map((s) => s.skewMs));
  assert.ok(worst <= 1000 / fps / 2, `worst skew ${worst} ms`);
  // The cameras were triggered together: frames of one instant share their sequence number. An
  // uncorrected 50 ms offset would pair cam-3's next frame (stamped only 17 ms away) instead.
  for (const s of full) {
    const seqs = new Set([...s.frames.values()].map((f) => f.seq));
    assert.equal(
      seqs.size,
      1,
      `set at ${s.ts} mixes instants: ${
        [...s.frames.values()].map((f) => `${f.cameraId}#${f.seq}`)
      }`,
    );
  }
  assert.equal(full[0]!.frames.get("cam-3")!.format, "i420");
  for (const s of sets) s[Symbol.dispose]();
});
