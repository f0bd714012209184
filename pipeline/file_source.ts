/**
 * File source: decodes an MP4/H.264 clip with ffmpeg.wasm into frames, stamped from the clip's
 * own presentation times. A corrupt or unreadable file yields a `frame_error` signal naming the
 * camera and ffmpeg's reason, and an empty stream: the pipeline keeps running.
 *
 * @example
 * ```ts
 * import { fileSource } from "./file_source.ts";
 *
 * const bytes = new Uint8Array(await (await fetch(new URL("clip.mp4", import.meta.url))).arrayBuffer());
 * for await (const frame of fileSource(bytes, { cameraId: "cam-1", deviceId: "m001-a" })) {
 *   using f = frame;
 * }
 * ```
 *
 * @module
 */
import { type FfmpegCore, loadFfmpegCore } from "../wasm/mod.ts";
import { createFrame, type Frame, type PixelFormat } from "./frame.ts";
import type { SignalSink } from "./signal.ts";
import type { StageMetrics } from "./stage_metrics.ts";

/** Options of {@link fileSource}. */
export interface FileSourceOptions {
  /** Camera id the frames carry. */
  readonly cameraId: string;
  /** Device id the frames carry. */
  readonly deviceId: string;
  /** Pixel format of the frames. Default `"rgba"`. */
  readonly format?: PixelFormat;
  /** Reference-clock time of the clip's first frame, Unix ms. Default 0. */
  readonly startTs?: number;
  /** Refuse clips with more frames than this (they are decoded in memory). Default 3000. */
  readonly maxFrames?: number;
  /** Where a decoding failure is reported. */
  readonly signals?: SignalSink;
  /** Metrics of this source. */
  readonly metrics?: StageMetrics;
  /** A loaded ffmpeg.wasm core to reuse. Default: a new one. */
  readonly core?: FfmpegCore;
  /** Stops the source. */
  readonly signal?: AbortSignal;
}

let counter = 0;

/** Frames of an MP4/H.264 clip given as bytes. */
export function fileSource(clip: Uint8Array, options: FileSourceOptions): ReadableStream<Frame> {
  if (!(clip instanceof Uint8Array)) {
    throw new TypeError(
      `File source for camera "${options.cameraId}" needs the clip as a Uint8Array`,
    );
  }
  const format = options.format ?? "rgba";
  let frames: Array<{ data: Uint8Array; ts: number }> = [];
  let width = 0;
  let height = 0;
  let next = 0;
  const fail = async (reason: string) => {
    options.metrics?.recordError();
    await options.signals?.emit({
      type: "frame_error",
      cameraId: options.cameraId,
      at: options.startTs ?? 0,
      stage: "file_source",
      reason,
    });
  };
  return new ReadableStream<Frame>({
    async start() {
      const core = options.core ?? await loadFfmpegCore();
      const id = ++counter;
      const input = `/in-${id}.mp4`;
      const output = `/out-${id}.raw`;
      core.FS.writeFile(input, clip);
      try {
        const { code, log } = core.run([
          "-nostdin",
          "-i",
          input,
          "-an",
          "-vf",
          "showinfo",
          "-frames:v",
          String((options.maxFrames ?? 3000) + 1),
          "-f",
          "rawvideo",
          "-pix_fmt",
          format === "rgba" ? "rgba" : "yuv420p",
          output,
        ]);
        if (code !== 0) {
          const reason = log.filter((l) => !/^Aborted\(\)$/.test(l)).slice(-2).join("; ") ||
            `ffmpeg exited with ${code}`;
          await fail(`cannot decode clip (${clip.length} bytes): ${reason}`);
          return;
        }
        const size = log.map((l) => /Stream #0:0.*Video: rawvideo.*?, (\d+)x(\d+)/.exec(l)).find((
          m,
        ) => m);
        const pts = log.flatMap((l) => {
          const m = /pts_time:\s*(-?[\d.]+)/.exec(l);
          return m ? [Number(m[1]) * 1000] : [];
        });
        if (!size) {
          await fail("cannot decode clip: no video stream");
          return;
        }
        width = Number(size[1]);
        height = Number(size[2]);
        const raw = core.FS.readFile(output);
        const frameSize = format === "rgba"
          ? width * height * 4
          : width * height + 2 * ((width + 1) >> 1) * ((height + 1) >> 1);
        const count = Math.floor(raw.length / frameSize);
        if (count > (options.maxFrames ?? 3000)) {
          await fail(`clip has more than ${options.maxFrames ?? 3000} frames`);
          return;
        }
        const first = pts[0] ?? 0;
        frames = Array.from({ length: count }, (_, i) => ({
          data: raw.slice(i * frameSize, (i + 1) * frameSize),
          ts: (options.startTs ?? 0) + (pts[i] ?? first + (i * 1000) / 15) - first,
        }));
      } finally {
        for (const path of [input, output]) unlinkIfCreated(core.FS, path);
      }
    },
    pull(controller) {
      if (options.signal?.aborted || next >= frames.length) return controller.close();
      const f = frames[next]!;
      frames[next] = { data: new Uint8Array(0), ts: 0 }; // the stream no longer holds it
      controller.enqueue(createFrame({
        cameraId: options.cameraId,
        deviceId: options.deviceId,
        seq: next++,
        ts: f.ts,
        width,
        height,
        format,
        data: f.data,
      }));
    },
  }, new CountQueuingStrategy({ highWaterMark: 0 }));
}

/**
 * Removes `path` from the core's file system. Not created (ffmpeg failed first) is Emscripten's
 * ENOENT, errno 44: nothing to remove. Anything else is a broken core and throws.
 */
function unlinkIfCreated(fs: { unlink(path: string): void }, path: string): void {
  try {
    fs.unlink(path);
  } catch (e) {
    if ((e as { errno?: unknown })?.errno !== 44) throw e;
  }
}
