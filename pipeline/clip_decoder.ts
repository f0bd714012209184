/**
 * Decoding session clips back into pictures with ffmpeg.wasm (one long-lived instance in a
 * Worker, job after job): an MP4 (fragmented, as the recorder writes it) in, the RGBA pictures
 * of the frames asked for out, and how many frames the clip held. A clip ffmpeg cannot read
 * (corrupt, truncated, not H.264) is refused with {@link ClipDecodeError}; a frame asked for that
 * the clip does not hold is simply not in the answer.
 *
 * @example
 * ```ts
 * import { ClipDecoder } from "./clip_decoder.ts";
 *
 * declare const mp4: Uint8Array;
 * await using decoder = new ClipDecoder();
 * const { frames, pictures } = await decoder.decode(mp4, { width: 320, height: 240, pick: [0, 9] });
 * console.log(frames, pictures.get(9)?.width);
 * ```
 *
 * @module
 */
import { FFMPEG_INPUT, FFMPEG_OUTPUT, FfmpegWorker, type RgbaImage } from "../wasm/mod.ts";

/** A clip ffmpeg could not decode; `log` holds its last lines. */
export class ClipDecodeError extends Error {
  /** ffmpeg's last log lines. */
  readonly log: readonly string[];
  /** Creates the error. */
  constructor(message: string, log: readonly string[], options?: ErrorOptions) {
    super(message, options);
    this.name = "ClipDecodeError";
    this.log = log;
  }
}

/** What {@link ClipDecoder.decode} takes besides the clip. */
export interface DecodeClipOptions {
  /** The clip's picture size (as its clip event says). */
  readonly width: number;
  readonly height: number;
  /** Frame indices to keep (0-based, in decoding order). */
  readonly pick: readonly number[];
  readonly signal?: AbortSignal;
}

/** What a clip held. */
export interface DecodedClip {
  /** Frames decoded. */
  readonly frames: number;
  /** The pictures asked for that the clip held, by frame index. */
  readonly pictures: ReadonlyMap<number, RgbaImage>;
}

/** Decodes clips, one at a time, in one ffmpeg.wasm instance (started on first use). */
export class ClipDecoder implements AsyncDisposable {
  #ffmpeg: FfmpegWorker | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  /** Decodes `mp4` (see {@link DecodeClipOptions}); waits for a decode in progress. */
  decode(mp4: Uint8Array, options: DecodeClipOptions): Promise<DecodedClip> {
    const { width, height } = options;
    for (const [name, v] of [["width", width], ["height", height]] as const) {
      if (!Number.isInteger(v) || v < 16 || v > 7680) {
        throw new RangeError(`Cannot decode a clip ${name} ${v}: an integer 16-7680`);
      }
    }
    const run = this.#queue.then(() => this.#decode(mp4, options));
    this.#queue = run.catch(() => {});
    return run;
  }

  async #decode(mp4: Uint8Array, options: DecodeClipOptions): Promise<DecodedClip> {
    if (!this.#ffmpeg?.alive) this.#ffmpeg = await FfmpegWorker.start();
    const ffmpeg = this.#ffmpeg;
    const size = options.width * options.height * 4;
    const want = new Set(options.pick);
    const job = ffmpeg.run([
      "-nostdin",
      "-f",
      "mp4",
      "-i",
      FFMPEG_INPUT,
      "-an",
      "-vsync",
      "passthrough",
      "-s",
      `${options.width}x${options.height}`,
      "-f",
      "rawvideo",
      "-pix_fmt",
      "rgba",
      FFMPEG_OUTPUT,
    ]);
    const pictures = new Map<number, RgbaImage>();
    let frames = 0;
    const reading = (async () => {
      let buf = new Uint8Array(size);
      let have = 0;
      for await (const chunk of job.output) {
        let at = 0;
        while (at < chunk.length) {
          const n = Math.min(size - have, chunk.length - at);
          buf.set(chunk.subarray(at, at + n), have);
          have += n;
          at += n;
          if (have === size) {
            if (want.has(frames)) {
              pictures.set(frames, { data: buf, width: options.width, height: options.height });
              buf = new Uint8Array(size);
            }
            frames++;
            have = 0;
          }
        }
      }
    })();
    try {
      // Fed in pieces: the ring is smaller than a long clip.
      for (let at = 0; at < mp4.length; at += 1 << 20) {
        await job.write(
          mp4.subarray(at, at + (1 << 20)),
          options.signal ? { signal: options.signal } : {},
        );
      }
      job.end();
    } catch (e) {
      job.abort();
      await reading.catch(() => {});
      throw e;
    }
    const [result] = await Promise.all([job.done, reading]);
    if (result.code !== 0 || frames === 0) {
      throw new ClipDecodeError(
        `Cannot decode the clip: ffmpeg exited ${result.code} after ${frames} frames`,
        result.log,
      );
    }
    return { frames, pictures };
  }

  /** Stops the ffmpeg.wasm instance. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.#queue;
    this.#ffmpeg?.[Symbol.dispose]();
    this.#ffmpeg = undefined;
  }
}
