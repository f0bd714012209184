/**
 * Clip encoding and session recording, checked with the system's ffprobe and by decoding the
 * clips back: codec, frame count, duration, monotonic timestamps, PSNR against the source.
 */
import assert from "node:assert/strict";
import { NativeClipEncoder } from "../edge/recording/mod.ts";
import {
  type ClipEncoder,
  ClipEncoderError,
  type ClipInfo,
  type ClipSink,
  type ClipSummary,
  collectSignals,
  type Fmp4Segment,
  fmp4Segments,
  type Frame,
  type PipelineSignal,
  randomScenario,
  SessionRecorder,
  syntheticCamera,
  WasmClipEncoder,
} from "../pipeline/mod.ts";
import { loadWasmKernels } from "../wasm/mod.ts";
import { concat, decodeI420, probeClip, psnr } from "./video_check.ts";

const kernels = await loadWasmKernels();

/** I420 frames of a synthetic scene (noise and lighting as the renderer makes them). */
async function sceneFrames(n: number, width: number, height: number): Promise<Uint8Array[]> {
  const cam = syntheticCamera(randomScenario(7), { cameraId: "cam-1", width, height, fps: 15 });
  const out: Uint8Array[] = [];
  for await (const f of cam) {
    using frame = f;
    out.push(kernels.rgbaToI420({ data: frame.data, width, height }).data);
    if (out.length === n) break;
  }
  return out;
}

async function encodeAll(encoder: ClipEncoder, frames: Uint8Array[], w: number, h: number) {
  const clip = await encoder.open({ width: w, height: h, fps: 15 });
  const bytes = new Response(clip.output).bytes();
  for (const f of frames) await clip.write(f);
  const result = await clip.close();
  return { result, mp4: await bytes };
}

for (const backend of ["wasm", "native"] as const) {
  Deno.test(`${backend} clip encoder writes H.264 that decodes back at 35 dB PSNR or more`, async () => {
    await using encoder = backend === "wasm" ? new WasmClipEncoder() : new NativeClipEncoder();
    const frames = await sceneFrames(30, 640, 480);
    const { result, mp4 } = await encodeAll(encoder, frames, 640, 480);
    assert.deepEqual(result.frames, 30);
    assert.deepEqual(result.bytes, mp4.length);
    const probe = await probeClip(mp4);
    assert.deepEqual(probe.codec, "h264");
    assert.deepEqual([probe.width, probe.height], [640, 480]);
    assert.deepEqual(probe.frames, 30);
    // Duration within one frame period of 30 frames at 15 fps.
    assert.ok(Math.abs(probe.durationS - 2) <= 1 / 15, `duration ${probe.durationS}`);
    for (let i = 1; i < probe.pts.length; i++) {
      assert.ok(probe.pts[i]! > probe.pts[i - 1]!, `pts ${i} not after ${i - 1}`);
    }
    const decoded = await decodeI420(mp4, 640, 480);
    assert.deepEqual(decoded.length, 30);
    const worst = Math.min(...decoded.map((d, i) => psnr(frames[i]!, d)));
    assert.ok(worst >= 35, `worst frame PSNR ${worst.toFixed(2)} dB < 35`);
  });
}

Deno.test("clip encoders refuse a frame whose size differs from the clip's", async () => {
  await using wasm = new WasmClipEncoder();
  await using native = new NativeClipEncoder();
  for (const encoder of [wasm, native]) {
    const clip = await encoder.open({ width: 64, height: 48, fps: 15 });
    const out = new Response(clip.output).bytes();
    await assert.rejects(() => clip.write(new Uint8Array(640 * 480 * 1.5)), {
      name: "RangeError",
      message:
        "Cannot encode a frame of 460800 bytes into a 64x48 clip: expected 4608 bytes of I420",
    });
    await clip.write(new Uint8Array(64 * 48 * 1.5));
    assert.deepEqual((await clip.close()).frames, 1, encoder.backend);
    assert.ok((await out).length > 0);
  }
  assert.throws(() => new WasmClipEncoder({ instances: 0 }), {
    name: "RangeError",
    message: /1-16/,
  });
  await assert.rejects(() => wasm.open({ width: 641, height: 480, fps: 15 }), {
    name: "RangeError",
    message: /width 641/,
  });
});

Deno.test("WasmClipEncoder serves 300 clips from one instance (past ffmpeg.wasm's stack leak)", async () => {
  await using encoder = new WasmClipEncoder({ instances: 1 });
  const frame = new Uint8Array(64 * 48 * 1.5).fill(90);
  // Unpatched, @ffmpeg/core 0.12.10 overflows its stack after about 150 runs.
  for (let i = 0; i < 300; i++) {
    const { result } = await encodeAll(encoder, [frame, frame, frame], 64, 48);
    assert.deepEqual(result.frames, 3);
  }
  assert.deepEqual(encoder.started, 1);
  assert.deepEqual(encoder.instances, 1);
});

Deno.test("WasmClipEncoder killed mid-clip fails the clip, keeps what was made, restarts", async () => {
  await using encoder = new WasmClipEncoder({ instances: 1 });
  const frames = await sceneFrames(40, 320, 240);
  const clip = await encoder.open({ width: 320, height: 240, fps: 15, keyframeSeconds: 0.5 });
  const segments: Fmp4Segment[] = [];
  const reading = clip.output.pipeThrough(fmp4Segments()).pipeTo(
    new WritableStream({ write: (s) => void segments.push(s) }),
  ).catch((e) => e);
  for (const f of frames.slice(0, 30)) await clip.write(f);
  // Wait until ffmpeg has emitted some fragments, then kill it as an OOM killer would.
  for (let i = 0; i < 100 && segments.length < 3; i++) await new Promise((r) => setTimeout(r, 20));
  encoder.killAll();
  await assert.rejects(
    () => clip.write(frames[30]!),
    (e) => e instanceof ClipEncoderError && /died/.test(e.message),
  );
  assert.ok((await reading) instanceof Error);
  assert.deepEqual(segments[0]?.kind, "init");
  assert.ok(segments.filter((s) => s.kind === "media").length > 0);
  // What was made before the kill is a playable fragmented MP4.
  const partial = concat(segments.map((s) => s.bytes));
  const probe = await probeClip(partial);
  assert.deepEqual(probe.codec, "h264");
  assert.ok(probe.frames > 0);
  // The next clip gets a fresh instance.
  const again = await encodeAll(encoder, frames.slice(0, 5), 320, 240);
  assert.deepEqual(again.result.frames, 5);
  assert.deepEqual(encoder.started, 2);
});

/** A sink that keeps clips in memory. */
function memorySink() {
  const clips: Array<{ info: ClipInfo; bytes: Uint8Array[]; summary?: ClipSummary }> = [];
  const sink: ClipSink = {
    create(info) {
      const clip: (typeof clips)[number] = { info, bytes: [] };
      clips.push(clip);
      return Promise.resolve({
        write: (b) => {
          clip.bytes.push(b.slice());
          return Promise.resolve();
        },
        finish: (summary) => {
          clip.summary = summary;
          return Promise.resolve();
        },
        discard: () => Promise.resolve(),
      });
    },
  };
  const mp4 = (i: number) => Promise.resolve(concat(clips[i]!.bytes));
  return { sink, clips, mp4 };
}

/** Frames of one camera at 15 fps from `from` to `to` ms, minus the dropped sequence numbers. */
function frames(
  cameraId: string,
  to: number,
  drop: Set<number> = new Set(),
): ReadableStream<Frame> {
  return syntheticCamera(randomScenario(3), {
    cameraId,
    width: 320,
    height: 240,
    fps: 15,
    dropFrames: drop,
    stopAtMs: to,
  });
}

Deno.test("SessionRecorder records each camera from the pre-roll through the post-roll", async () => {
  await using encoder = new WasmClipEncoder();
  const { sink, clips, mp4 } = memorySink();
  const recorder = new SessionRecorder({
    encoder,
    sink,
    kernels,
    preRollMs: 1000,
    postRollMs: 500,
  });
  recorder.open("s-1", 3000);
  recorder.close("s-1", 5000);
  // Frames 50-52 of cam-1 never arrive: the clip repeats the one before to keep its timeline.
  const { mergeStreams } = await import("../pipeline/mod.ts");
  await mergeStreams([frames("cam-1", 7000, new Set([50, 51, 52])), frames("cam-2", 7000)])
    .pipeTo(recorder.writable);
  await recorder.drain();
  assert.deepEqual(clips.length, 2);
  for (let i = 0; i < 2; i++) {
    const { info, summary } = clips[i]!;
    assert.deepEqual(info.sessionId, "s-1");
    assert.deepEqual(info.part, 0);
    assert.deepEqual(summary?.status, "complete");
    // 2000 ms (1000 pre-roll before 3000) to 5500 ms (500 post-roll after 5000), at 15 fps.
    assert.ok(Math.abs(summary!.startTs - 2000) <= 67, `start ${summary!.startTs}`);
    assert.ok(Math.abs(summary!.endTs - 5500) <= 67, `end ${summary!.endTs}`);
    const probe = await probeClip(await mp4(i));
    assert.deepEqual(probe.frames, summary!.frames);
    const span = (summary!.endTs - summary!.startTs) / 1000 + 1 / 15;
    assert.ok(Math.abs(probe.durationS - span) <= 1 / 15, `duration ${probe.durationS} vs ${span}`);
  }
  assert.deepEqual(recorder.clips, 2);
});

/**
 * Records session s-1 (door open 3000-5000 ms, 1000 pre-roll, 500 post-roll) from `cameras`; the
 * encoder's `slow`-th start (from 1) takes 700 ms while the recorder's clock moves 5 s on (a
 * loaded device): the stream waits on the recorder meanwhile, and no camera is silent.
 */
async function recordWithSlowStart(cameras: string[], slow: number) {
  await using inner = new WasmClipEncoder();
  let now = 0;
  let opened = 0;
  const encoder: ClipEncoder = {
    backend: "slow",
    async open(spec, options) {
      if (++opened === slow) {
        await new Promise((r) => setTimeout(r, 700)); // more than a sweep period of 500 ms
        now += 5000;
      }
      return inner.open(spec, options);
    },
    [Symbol.asyncDispose]: () => Promise.resolve(),
  };
  const { sink, clips } = memorySink();
  const recorder = new SessionRecorder({
    encoder,
    sink,
    kernels,
    preRollMs: 1000,
    postRollMs: 500,
    now: () => now,
  });
  recorder.open("s-1", 3000);
  recorder.close("s-1", 5000);
  const { mergeStreams } = await import("../pipeline/mod.ts");
  await mergeStreams(cameras.map((c) => frames(c, 7000))).pipeTo(recorder.writable);
  await recorder.drain();
  return clips;
}

function assertWholeClips(clips: ReturnType<typeof memorySink>["clips"], n: number) {
  assert.deepEqual(
    clips.map((c) => [c.info.part, c.summary?.status]),
    Array.from({ length: n }, () => [0, "complete"]),
  );
  for (const { summary } of clips) {
    assert.ok(Math.abs(summary!.startTs - 2000) <= 67, `start ${summary!.startTs}`);
    assert.ok(Math.abs(summary!.endTs - 5500) <= 67, `end ${summary!.endTs}`);
  }
}

Deno.test("SessionRecorder does not cut a clip while a slow encoder start holds its frames back", async () => {
  assertWholeClips(await recordWithSlowStart(["cam-1"], 1), 1);
});

Deno.test("SessionRecorder does not cut one camera's clip while another's slow encoder start holds the stream", async () => {
  assertWholeClips(await recordWithSlowStart(["cam-1", "cam-2"], 2), 2);
});

Deno.test("SessionRecorder records a camera whose frames lag seconds behind another's", async () => {
  await using encoder = new WasmClipEncoder();
  const { sink, clips } = memorySink();
  const recorder = new SessionRecorder({ encoder, sink, kernels, preRollMs: 500, postRollMs: 300 });
  recorder.open("s-1", 3000);
  recorder.close("s-1", 4000);
  // cam-2 is known (its first frames came), then cam-1 runs far past the session before the
  // rest of cam-2's frames arrive: a device under load, its second camera's queue behind.
  const all = async (cameraId: string) => await Array.fromAsync(frames(cameraId, 6000));
  const cam1 = await all("cam-1");
  const cam2 = await all("cam-2");
  const order = [
    ...cam2.filter((f) => f.ts < 1000),
    ...cam1,
    ...cam2.filter((f) => f.ts >= 1000),
  ];
  await ReadableStream.from(order).pipeTo(recorder.writable);
  await recorder.drain();
  assert.deepEqual(clips.map((c) => c.info.cameraId).sort(), ["cam-1", "cam-2"]);
  for (const c of clips) assert.deepEqual(c.summary?.status, "complete");
});

Deno.test("SessionRecorder does not cut a camera whose frames arrive long after the door closed", async () => {
  await using encoder = new WasmClipEncoder();
  const { sink, clips } = memorySink();
  let wall = 0;
  const recorder = new SessionRecorder({
    encoder,
    sink,
    kernels,
    preRollMs: 500,
    postRollMs: 300,
    now: () => wall,
  });
  recorder.open("s-1", 3000);
  recorder.close("s-1", 4000);
  // The frames of the session come 10 s (of the recorder's clock) after the close, while the
  // periodic sweep runs: late, but arriving, so the clip is whole.
  wall = 10_000;
  const late = new TransformStream<Frame, Frame>({
    async transform(f, c) {
      wall += 67;
      c.enqueue(f);
      if (f.ts % 1000 < 67) await new Promise((r) => setTimeout(r, 600)); // let the sweep run
    },
  });
  await frames("cam-1", 6000).pipeThrough(late).pipeTo(recorder.writable);
  await recorder.drain();
  assert.equal(clips.length, 1);
  const { summary } = clips[0]!;
  assert.deepEqual(summary?.status, "complete");
  assert.ok(Math.abs(summary!.startTs - 2500) <= 67, `start ${summary!.startTs}`);
  assert.ok(Math.abs(summary!.endTs - 4300) <= 67, `end ${summary!.endTs}`);
});

Deno.test("WasmClipEncoder.warm starts its instances before the first clip, once", async () => {
  await using encoder = new WasmClipEncoder({ instances: 2 });
  assert.equal(encoder.instances, 0);
  await encoder.warm();
  assert.equal(encoder.instances, 2);
  await encoder.warm();
  const clip = await encodeAll(encoder, await sceneFrames(3, 320, 240), 320, 240);
  assert.equal(clip.result.frames, 3);
  assert.equal(encoder.started, 2, "the clip used a warm instance; none started again");
});

/** A recorder with no pre- or post-roll that collects its signals. */
function tightRecorder(encoder: ClipEncoder) {
  const { sink, clips, mp4 } = memorySink();
  const signals: PipelineSignal[] = [];
  const recorder = new SessionRecorder({
    encoder,
    sink,
    kernels,
    preRollMs: 0,
    postRollMs: 0,
    signals: collectSignals(signals),
  });
  return { recorder, signals, clips, mp4 };
}

Deno.test("SessionRecorder continues a session in a new part when the encoder dies", async () => {
  await using encoder = new WasmClipEncoder({ instances: 1 });
  const { recorder, signals, clips, mp4 } = tightRecorder(encoder);
  recorder.open("s-9", 1000);
  recorder.close("s-9", 4000);
  let n = 0;
  await frames("cam-1", 5000).pipeThrough(
    new TransformStream<Frame, Frame>({
      async transform(f, c) {
        // Kill the encoder halfway through the session, once it has written some fragments.
        if (f.ts >= 2500 && n++ === 0) {
          await new Promise((r) => setTimeout(r, 300));
          encoder.killAll();
        }
        c.enqueue(f);
      },
    }),
  ).pipeTo(recorder.writable);
  await recorder.drain();
  assert.deepEqual(clips.map((c) => [c.info.part, c.summary?.status]), [[0, "broken"], [
    1,
    "complete",
  ]]);
  assert.deepEqual(signals.filter((s) => s.type === "recording_error").length, 1);
  const [a, b] = [clips[0]!.summary!, clips[1]!.summary!];
  assert.ok(
    a.startTs < 1001 && b.endTs > 3930 && b.startTs - a.endTs < 500,
    `parts ${a.startTs}-${a.endTs}, ${b.startTs}-${b.endTs}`,
  );
  assert.deepEqual((await probeClip(await mp4(1))).frames, b.frames);
  assert.deepEqual(encoder.started, 2);
});

Deno.test("SessionRecorder drops a frame of another size mid-clip and says so", async () => {
  await using encoder = new WasmClipEncoder({ instances: 1 });
  const { recorder, signals, clips } = tightRecorder(encoder);
  recorder.open("s-2", 0);
  recorder.close("s-2", 1000);
  const odd = syntheticCamera(randomScenario(3), {
    cameraId: "cam-1",
    width: 160,
    height: 120,
    fps: 15,
  });
  const w = recorder.writable.getWriter();
  const src = frames("cam-1", 1200).getReader();
  let i = 0;
  for (let r = await src.read(); !r.done; r = await src.read()) {
    await w.write(r.value);
    if (i++ === 5) {
      const { value } = await odd.getReader().read();
      await w.write({ ...value!, ts: r.value.ts + 1 });
    }
  }
  await w.close();
  await recorder.drain();
  assert.deepEqual(clips.length, 1);
  assert.deepEqual(clips[0]!.summary?.status, "complete");
  const errors = signals.filter((s) => s.type === "frame_error");
  assert.deepEqual(errors.length, 1);
  assert.ok(errors[0]!.type === "frame_error" && errors[0]!.reason.includes("160x120"));
});
