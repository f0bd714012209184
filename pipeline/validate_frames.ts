/**
 * Frame validation: checks each frame against what its camera should deliver (known camera,
 * size, format, byte count, a timestamp that moves forward). A bad frame is released and
 * reported as a `frame_error` signal naming the camera and the reason; the stream goes on.
 *
 * @module
 */
import { type Frame, frameProblem, type PixelFormat } from "./frame.ts";
import type { SignalSink } from "./signal.ts";
import type { StageMetrics } from "./stage_metrics.ts";

/** What a camera delivers. */
export interface CameraFormat {
  /** Frame width. */
  readonly width: number;
  /** Frame height. */
  readonly height: number;
  /** Pixel format. */
  readonly format: PixelFormat;
}

/** A stage that passes good frames and reports bad ones. */
export function validateFrames(
  cameras: ReadonlyMap<string, CameraFormat>,
  options: { signals?: SignalSink; metrics?: StageMetrics; now?: () => number } = {},
): TransformStream<Frame, Frame> {
  const lastTs = new Map<string, number>();
  const now = options.now ?? (() => Date.now());
  return new TransformStream<Frame, Frame>({
    async transform(frame, controller) {
      options.metrics?.recordIn();
      const start = performance.now();
      const expected = cameras.get(frame.cameraId);
      let problem = expected ? frameProblem(frame, expected) : `unknown camera "${frame.cameraId}"`;
      const previous = lastTs.get(frame.cameraId);
      if (!problem && previous !== undefined && frame.ts <= previous) {
        problem = `timestamp went backwards from ${previous} to ${frame.ts}`;
      }
      if (problem) {
        options.metrics?.recordError();
        frame[Symbol.dispose]();
        await options.signals?.emit({
          type: "frame_error",
          cameraId: frame.cameraId,
          at: now(),
          stage: "validate",
          reason: problem,
        });
        return;
      }
      lastTs.set(frame.cameraId, frame.ts);
      controller.enqueue(frame);
      options.metrics?.recordOut(performance.now() - start);
    },
  });
}
