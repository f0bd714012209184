import assert from "node:assert/strict";
import { createFrame, type Frame } from "./frame.ts";
import { collectSignals, type PipelineSignal } from "./signal.ts";
import { StageMetrics } from "./stage_metrics.ts";
import { validateFrames } from "./validate_frames.ts";

function frame(
  cameraId: string,
  ts: number,
  width = 4,
  height = 2,
  format: "rgba" | "i420" = "rgba",
  bytes?: number,
): Frame {
  const size = bytes ?? (format === "rgba" ? width * height * 4 : width * height * 3 / 2);
  return createFrame({
    cameraId,
    deviceId: "m1-a",
    seq: 0,
    ts,
    width,
    height,
    format,
    data: new Uint8Array(size),
  });
}

Deno.test("validateFrames passes good frames and reports each bad one with its camera and reason", async () => {
  const signals: PipelineSignal[] = [];
  const metrics = new StageMetrics("validate");
  const stage = validateFrames(
    new Map([["cam-1", { width: 4, height: 2, format: "rgba" as const }]]),
    {
      signals: collectSignals(signals),
      metrics,
      now: () => 1,
    },
  );
  const inputs = [
    frame("cam-1", 100),
    frame("cam-1", 200, 8, 2), // wrong size
    frame("cam-1", 300, 4, 2, "i420"), // wrong format
    frame("cam-1", 400, 4, 2, "rgba", 31), // wrong byte count
    frame("cam-1", 50), // backwards
    frame("cam-9", 500), // unknown camera
    frame("cam-1", 600),
  ];
  const out: Frame[] = [];
  const reading = (async () => {
    for await (const f of stage.readable) out.push(f);
  })();
  const writer = stage.writable.getWriter();
  for (const f of inputs) await writer.write(f);
  await writer.close();
  await reading;
  assert.deepEqual(out.map((f) => f.ts), [100, 600]);
  assert.deepEqual(signals.map((s) => [s.cameraId, s.type === "frame_error" ? s.reason : ""]), [
    ["cam-1", "size 8x2, expected 4x2"],
    ["cam-1", "format i420, expected rgba"],
    ["cam-1", "31 bytes of pixels, expected 32"],
    ["cam-1", "timestamp went backwards from 100 to 50"],
    ["cam-9", 'unknown camera "cam-9"'],
  ]);
  assert.equal(metrics.snapshot().errors, 5);
  assert.equal(metrics.snapshot().outCount, 2);
});
