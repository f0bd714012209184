import assert from "node:assert/strict";
import { fileSource } from "./file_source.ts";
import type { Frame } from "./frame.ts";
import { collectSignals, type PipelineSignal } from "./signal.ts";
import { StageMetrics } from "./stage_metrics.ts";

const clip = new Uint8Array(
  await (await fetch(new URL("./testdata/testsrc_160x120_15fps.mp4", import.meta.url)))
    .arrayBuffer(),
);

async function collect(stream: ReadableStream<Frame>): Promise<Frame[]> {
  const out: Frame[] = [];
  for await (const f of stream) out.push(f);
  return out;
}

Deno.test("fileSource decodes an H.264 MP4 with ffmpeg.wasm into timed frames", async () => {
  const frames = await collect(
    fileSource(clip, { cameraId: "cam-1", deviceId: "m001-a", startTs: 5000 }),
  );
  assert.equal(frames.length, 30);
  assert.deepEqual([frames[0]!.width, frames[0]!.height, frames[0]!.format], [160, 120, "rgba"]);
  assert.equal(frames[0]!.data.length, 160 * 120 * 4);
  assert.equal(frames[0]!.ts, 5000);
  assert.ok(Math.abs(frames[29]!.ts - (5000 + 29 * 1000 / 15)) < 1, `last ts ${frames[29]!.ts}`);
  // testsrc's colour bars: the top-left area is not black, and frames change over time.
  assert.ok(frames[0]!.data.slice(0, 400).some((v) => v > 50));
  assert.notDeepEqual(frames[0]!.data.slice(0, 4000), frames[15]!.data.slice(0, 4000));
  const i420 = await collect(
    fileSource(clip, { cameraId: "cam-1", deviceId: "m001-a", format: "i420" }),
  );
  assert.equal(i420[0]!.data.length, 160 * 120 * 3 / 2);
});

Deno.test("fileSource reports a corrupt MP4 as a frame error naming the camera, and ends cleanly", async () => {
  const got: PipelineSignal[] = [];
  const metrics = new StageMetrics("file");
  const broken = clip.slice(0, 600); // truncated: the header survives, the media does not
  const frames = await collect(
    fileSource(broken, {
      cameraId: "cam-2",
      deviceId: "m001-a",
      signals: collectSignals(got),
      metrics,
    }),
  );
  assert.equal(frames.length, 0);
  assert.equal(got.length, 1);
  const signal = got[0]!;
  assert.equal(signal.type, "frame_error");
  assert.equal(signal.cameraId, "cam-2");
  assert.match(
    signal.type === "frame_error" ? signal.reason : "",
    /cannot decode clip \(600 bytes\): .+/,
  );
  assert.equal(metrics.snapshot().errors, 1);
  const garbage = await collect(
    fileSource(new Uint8Array(1000).fill(7), {
      cameraId: "cam-2",
      deviceId: "m001-a",
      signals: collectSignals(got),
    }),
  );
  assert.equal(garbage.length, 0);
  assert.match(
    got[1]?.type === "frame_error" ? got[1].reason : "",
    /Invalid data found|moov atom not found/,
  );
});
