import assert from "node:assert/strict";
import { createFrame, type Frame } from "./frame.ts";
import type { FrameSet } from "./frame_set.ts";
import { FrameSync } from "./frame_sync.ts";
import { mergeStreams } from "./merge.ts";
import { randomScenario } from "./scenario.ts";
import { collectSignals, type PipelineSignal } from "./signal.ts";
import { MetricsRegistry } from "./stage_metrics.ts";
import { syntheticCamera } from "./synthetic_camera.ts";
import { validateFrames } from "./validate_frames.ts";

/** Passes frames through, swapping frame `at` of a camera for one of the wrong size. */
function corruptOne(at: number): TransformStream<Frame, Frame> {
  return new TransformStream({
    transform(frame, controller) {
      if (frame.seq !== at) return controller.enqueue(frame);
      frame[Symbol.dispose]();
      controller.enqueue(
        createFrame({ ...frame, width: 10, data: new Uint8Array(10 * frame.height * 4) }),
      );
    },
  });
}

Deno.test("the pipeline keeps producing frame sets through a bad frame and a camera that disappears", async () => {
  const scenario = randomScenario(8);
  const size = { width: 48, height: 36 };
  let clock = 0; // the reference clock follows the frames, as if they arrived live
  const cams = [
    syntheticCamera(scenario, { cameraId: "cam-1", ...size, fps: 15 }),
    syntheticCamera(scenario, { cameraId: "cam-2", ...size, fps: 15 }).pipeThrough(corruptOne(5)),
    syntheticCamera(scenario, { cameraId: "cam-3", ...size, fps: 15, stopAtMs: 1500 }),
  ].map((s) =>
    s.pipeThrough(
      new TransformStream<Frame, Frame>({
        transform(f, c) {
          clock = Math.max(clock, f.ts);
          c.enqueue(f);
        },
      }),
    )
  );
  const signals: PipelineSignal[] = [];
  const sink = collectSignals(signals);
  const metrics = new MetricsRegistry();
  const formats = new Map(
    ["cam-1", "cam-2", "cam-3"].map((c) => [c, { ...size, format: "rgba" as const }]),
  );
  const sync = new FrameSync({
    cameras: ["cam-1", "cam-2", "cam-3"].map((cameraId) => ({ cameraId, fps: 15 })),
    cameraTimeoutMs: 500,
    now: () => clock,
    signals: sink,
    metrics: metrics.stage("frame_sync"),
  });
  const done = mergeStreams(cams)
    .pipeThrough(
      validateFrames(formats, {
        signals: sink,
        metrics: metrics.stage("validate"),
        now: () => clock,
      }),
    )
    .pipeTo(sync.writable);
  const sets: FrameSet[] = [];
  for await (const s of sync.readable) sets.push(s);
  await done;

  const bad = signals.find((s) => s.type === "frame_error");
  assert.deepEqual(
    bad && { camera: bad.cameraId, reason: bad.type === "frame_error" && bad.reason },
    {
      camera: "cam-2",
      reason: "size 10x36, expected 48x36",
    },
  );
  const lost = signals.find((s) => s.type === "camera_lost");
  assert.equal(lost?.cameraId, "cam-3");
  const last = sets.at(-1)!;
  assert.ok(last.ts > scenario.sessions[0]!.closeAt - 200, "sets continue to the end");
  assert.ok(last.missing.includes("cam-3") && last.frames.size === 2);
  assert.ok(sets.filter((s) => s.frames.size === 3).length > 15);
  const validate = metrics.snapshot().find((m) => m.name === "validate")!;
  assert.equal(validate.errors, 1);
  for (const s of sets) s[Symbol.dispose]();
});
