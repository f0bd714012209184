import assert from "node:assert/strict";
import { ffmpegCamera, listV4l2Devices, v4l2Input } from "../edge/mod.ts";
import { collectSignals, type Frame, type PipelineSignal, StageMetrics } from "../pipeline/mod.ts";

async function collect(stream: ReadableStream<Frame>, max = Infinity): Promise<Frame[]> {
  const out: Frame[] = [];
  for await (const f of stream) {
    out.push(f);
    if (out.length >= max) break;
  }
  return out;
}

Deno.test("ffmpegCamera cuts a live ffmpeg input into stamped frames", async () => {
  const frames = await collect(
    ffmpegCamera({
      cameraId: "cam-1",
      deviceId: "m001-a",
      width: 160,
      height: 120,
      fps: 15,
      input: ["-re", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=15"],
    }),
    10,
  );
  assert.equal(frames.length, 10);
  assert.deepEqual(frames.map((f) => f.seq), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.ok(frames.every((f) => f.data.length === 160 * 120 * 4 && f.format === "rgba"));
  for (let i = 1; i < frames.length; i++) assert.ok(frames[i]!.ts > frames[i - 1]!.ts);
  const span = frames[9]!.ts - frames[0]!.ts;
  assert.ok(span > 300 && span < 1500, `10 frames at 15 fps arrived over ${span} ms`);
  assert.notDeepEqual(frames[0]!.data, frames[9]!.data);
});

Deno.test("ffmpegCamera reports a camera it cannot open, naming it and the reason", async () => {
  const signals: PipelineSignal[] = [];
  const metrics = new StageMetrics("cam-2");
  const frames = await collect(ffmpegCamera({
    cameraId: "cam-2",
    deviceId: "m001-a",
    width: 64,
    height: 48,
    fps: 15,
    input: v4l2Input("/dev/video97", { width: 64, height: 48, fps: 15 }),
    signals: collectSignals(signals),
    metrics,
  }));
  assert.equal(frames.length, 0);
  assert.equal(signals.length, 1);
  assert.match(
    signals[0]!.type === "frame_error" ? signals[0]!.reason : "",
    /^Cannot open camera "cam-2": .*video97/,
  );
  assert.equal(metrics.snapshot().errors, 1);
});

Deno.test("ffmpegCamera reports a camera that stops mid-stream", async () => {
  const signals: PipelineSignal[] = [];
  const frames = await collect(ffmpegCamera({
    cameraId: "cam-3",
    deviceId: "m001-b",
    width: 64,
    height: 48,
    fps: 15,
    input: ["-f", "lavfi", "-i", "testsrc=size=64x48:rate=15:duration=0.4"],
    signals: collectSignals(signals),
  }));
  assert.equal(frames.length, 6);
  assert.equal(signals.length, 1);
  assert.match(
    signals[0]!.type === "frame_error" ? signals[0]!.reason : "",
    /camera "cam-3" stopped/,
  );
  assert.throws(
    () => v4l2Input("/etc/passwd", { width: 1, height: 1, fps: 1 }),
    /expected \/dev\/videoN/,
  );
});

const cameras = await listV4l2Devices();
Deno.test({
  name: "ffmpegCamera reads a V4L2 camera (skipped where this machine has none)",
  ignore: cameras.length === 0,
  async fn() {
    const frames = await collect(
      ffmpegCamera({
        cameraId: "cam-1",
        deviceId: "m001-a",
        width: 320,
        height: 240,
        fps: 15,
        input: v4l2Input(cameras[0]!, { width: 320, height: 240, fps: 15 }),
      }),
      5,
    );
    assert.equal(frames.length, 5);
  },
});
