/**
 * Device cameras through the system ffmpeg: it reads the camera (V4L2 on Linux, `/dev/videoN`),
 * scales and converts to raw frames on its stdout, and this source cuts them into frames
 * stamped on arrival. The same source reads any ffmpeg input, which the tests use (lavfi) where
 * no camera exists. When the camera cannot be opened or goes away, a `frame_error` signal names
 * the camera and ffmpeg's reason, and the stream ends; the pipeline keeps running.
 *
 * @example
 * ```ts
 * import { ffmpegCamera, v4l2Input } from "./ffmpeg_camera.ts";
 *
 * const frames = ffmpegCamera({
 *   cameraId: "cam-1", deviceId: "m001-a", width: 640, height: 480, fps: 15,
 *   input: v4l2Input("/dev/video0", { width: 640, height: 480, fps: 15 }),
 * });
 * ```
 *
 * @module
 */
import {
  createFrame,
  type Frame,
  frameBytes,
  type PixelFormat,
  type SignalSink,
  type StageMetrics,
} from "../../pipeline/mod.ts";

/** Options of {@link ffmpegCamera}. */
export interface FfmpegCameraOptions {
  /** Camera id. */
  readonly cameraId: string;
  /** Device id. */
  readonly deviceId: string;
  /** Frame width (ffmpeg scales to it). */
  readonly width: number;
  /** Frame height. */
  readonly height: number;
  /** Frames per second. */
  readonly fps: number;
  /** ffmpeg input arguments, e.g. {@link v4l2Input}. */
  readonly input: readonly string[];
  /** Pixel format of the frames. Default `"rgba"`. */
  readonly format?: PixelFormat;
  /** Clock that stamps frames, Unix ms. Default: the system clock. */
  readonly now?: () => number;
  /** Where a camera failure is reported. */
  readonly signals?: SignalSink;
  /** Metrics of this source. */
  readonly metrics?: StageMetrics;
  /** The ffmpeg executable. Default `ffmpeg`. */
  readonly ffmpegPath?: string;
  /** Stops the camera. */
  readonly signal?: AbortSignal;
}

/** ffmpeg input arguments for a V4L2 camera. */
export function v4l2Input(
  device: string,
  options: { width: number; height: number; fps: number; inputFormat?: string },
): string[] {
  if (!/^\/dev\/video\d+$/.test(device)) {
    throw new TypeError(`Invalid V4L2 device ${JSON.stringify(device)}: expected /dev/videoN`);
  }
  return [
    "-f",
    "v4l2",
    ...(options.inputFormat ? ["-input_format", options.inputFormat] : []),
    "-framerate",
    String(options.fps),
    "-video_size",
    `${options.width}x${options.height}`,
    "-i",
    device,
  ];
}

/** V4L2 camera devices present on this machine. */
export async function listV4l2Devices(): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir("/dev")) {
      if (/^video\d+$/.test(e.name)) out.push(`/dev/${e.name}`);
    }
  } catch (e) {
    // No /dev here (not Linux): no cameras. Anything else (permissions) is said to the caller.
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return out.sort();
}

/** A camera read through an ffmpeg child process. */
export function ffmpegCamera(options: FfmpegCameraOptions): ReadableStream<Frame> {
  const format = options.format ?? "rgba";
  const size = frameBytes(format, options.width, options.height);
  const now = options.now ?? (() => performance.timeOrigin + performance.now());
  let child: Deno.ChildProcess | undefined;
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  let stderr: Promise<string> = Promise.resolve("");
  let carry: Uint8Array = new Uint8Array(0);
  let seq = 0;
  let ended = false;

  const report = async (reason: string) => {
    options.metrics?.recordError();
    await options.signals?.emit({
      type: "frame_error",
      cameraId: options.cameraId,
      at: now(),
      stage: "camera",
      reason,
    });
  };
  const stop = () => {
    try {
      child?.kill("SIGTERM");
    } catch (e) {
      // ffmpeg exited already (the camera went away): nothing to stop. Deno says so with a
      // TypeError; anything else is not expected and is thrown.
      if (!(e instanceof TypeError && /already terminated/i.test(e.message))) throw e;
    }
  };
  options.signal?.addEventListener("abort", stop, { once: true });

  return new ReadableStream<Frame>({
    start() {
      try {
        child = new Deno.Command(options.ffmpegPath ?? "ffmpeg", {
          args: [
            "-hide_banner",
            "-loglevel",
            "error",
            "-nostdin",
            ...options.input,
            "-vf",
            `scale=${options.width}:${options.height},fps=${options.fps}`,
            "-pix_fmt",
            format === "rgba" ? "rgba" : "yuv420p",
            "-f",
            "rawvideo",
            "pipe:1",
          ],
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
        }).spawn();
      } catch (e) {
        ended = true;
        return report(
          `Cannot open camera "${options.cameraId}": cannot start ffmpeg (${(e as Error).message})`,
        );
      }
      reader = child.stdout.getReader();
      stderr = new Response(child.stderr).text();
      return undefined;
    },
    async pull(controller) {
      if (ended || !reader) return controller.close();
      const frame = new Uint8Array(size);
      let filled = 0;
      if (carry.length > 0) {
        const n = Math.min(carry.length, size);
        frame.set(carry.subarray(0, n));
        carry = carry.subarray(n);
        filled = n;
      }
      while (filled < size) {
        const { value, done } = await reader.read();
        if (done) {
          ended = true;
          const status = await child!.status;
          const why = (await stderr).trim().split("\n").pop() ||
            `ffmpeg exited with code ${status.code}`;
          if (!options.signal?.aborted) {
            await report(
              seq === 0
                ? `Cannot open camera "${options.cameraId}": ${why}`
                : `camera "${options.cameraId}" stopped: ${why}`,
            );
          }
          return controller.close();
        }
        const n = Math.min(value.length, size - filled);
        frame.set(value.subarray(0, n), filled);
        filled += n;
        if (n < value.length) carry = value.slice(n);
      }
      options.metrics?.recordOut(0);
      controller.enqueue(createFrame({
        cameraId: options.cameraId,
        deviceId: options.deviceId,
        seq: seq++,
        ts: now(),
        width: options.width,
        height: options.height,
        format,
        data: frame,
      }));
    },
    async cancel() {
      stop();
      // Rejects only when ffmpeg's pipe errored, and that error reached this stream's reader
      // already (pull fails with it); the process's end is awaited all the same.
      await reader?.cancel().catch(() => {/* reported through pull */});
      await child?.status;
    },
  }, new CountQueuingStrategy({ highWaterMark: 0 }));
}
