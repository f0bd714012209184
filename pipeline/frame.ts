/**
 * Frames: one picture from one camera, stamped on the machine's reference clock.
 *
 * @module
 */

/** Pixel formats a frame can carry. */
export type PixelFormat = "rgba" | "i420";

/** One picture from one camera. Dispose it when done, so its buffer can be reused. */
export interface Frame extends Disposable {
  /** Camera id, e.g. `"cam-1"`. */
  readonly cameraId: string;
  /** Device the camera is attached to. */
  readonly deviceId: string;
  /** Per-camera sequence number, from 0. */
  readonly seq: number;
  /** Capture time on the machine's reference clock (the primary device's), Unix ms. */
  readonly ts: number;
  /** Width in pixels. */
  readonly width: number;
  /** Height in pixels. */
  readonly height: number;
  /** Pixel format of `data`. */
  readonly format: PixelFormat;
  /** Pixel bytes. */
  readonly data: Uint8Array;
}

/** Fields of a new frame. */
export type FrameInit = Omit<Frame, typeof Symbol.dispose>;

/** Bytes a frame of this format and size holds. */
export function frameBytes(format: PixelFormat, width: number, height: number): number {
  if (format === "rgba") return width * height * 4;
  return width * height + 2 * ((width + 1) >> 1) * ((height + 1) >> 1);
}

/** Makes a frame; `release` runs once, on the first dispose. */
export function createFrame(init: FrameInit, options: { release?: () => void } = {}): Frame {
  let released = false;
  return {
    ...init,
    [Symbol.dispose]() {
      if (released) return;
      released = true;
      options.release?.();
    },
  };
}

/** Why a frame does not match what its camera should deliver, or `undefined` when it does. */
export function frameProblem(
  frame: Frame,
  expected: { readonly width: number; readonly height: number; readonly format: PixelFormat },
): string | undefined {
  if (frame.format !== expected.format) {
    return `format ${frame.format}, expected ${expected.format}`;
  }
  if (frame.width !== expected.width || frame.height !== expected.height) {
    return `size ${frame.width}x${frame.height}, expected ${expected.width}x${expected.height}`;
  }
  const bytes = frameBytes(frame.format, frame.width, frame.height);
  if (!(frame.data instanceof Uint8Array) || frame.data.length !== bytes) {
    return `${frame.data?.length ?? 0} bytes of pixels, expected ${bytes}`;
  }
  if (!Number.isFinite(frame.ts)) return `timestamp ${frame.ts} is not a number`;
  return undefined;
}
