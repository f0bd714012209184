/**
 * Frame sets: the frames of every camera of a machine for one instant.
 *
 * @module
 */
import type { Frame } from "./frame.ts";

/** One frame per camera for one instant, or the cameras that had none. */
export interface FrameSet extends Disposable {
  /** The instant, on the reference clock (the reference camera's frame time), Unix ms. */
  readonly ts: number;
  /** Frames by camera id. */
  readonly frames: ReadonlyMap<string, Frame>;
  /** Cameras with no frame within the tolerance (lost, late or dropped). */
  readonly missing: readonly string[];
  /** Largest difference between the frames' timestamps, ms. */
  readonly skewMs: number;
}

/** Makes a frame set; disposing it disposes its frames. */
export function createFrameSet(
  ts: number,
  frames: Map<string, Frame>,
  missing: string[],
): FrameSet {
  let min = Infinity;
  let max = -Infinity;
  for (const f of frames.values()) {
    min = Math.min(min, f.ts);
    max = Math.max(max, f.ts);
  }
  return {
    ts,
    frames,
    missing,
    skewMs: frames.size > 0 ? max - min : 0,
    [Symbol.dispose]() {
      for (const f of frames.values()) f[Symbol.dispose]();
    },
  };
}
