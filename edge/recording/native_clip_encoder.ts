/**
 * The native clip encoder: the system ffmpeg, one process per clip, raw frames on its stdin
 * and fragmented MP4 on its stdout. For boards whose ffmpeg has a hardware H.264 encoder
 * (`h264_v4l2m2m` on a Raspberry Pi, for example); chosen by the agent's `recording.backend`.
 * The default backend stays ffmpeg.wasm (pipeline's `WasmClipEncoder`).
 *
 * @example
 * ```ts
 * import { NativeClipEncoder } from "./native_clip_encoder.ts";
 *
 * await using encoder = new NativeClipEncoder();
 * const clip = await encoder.open({ width: 640, height: 480, fps: 15 });
 * const mp4 = new Response(clip.output).bytes();
 * await clip.write(new Uint8Array(640 * 480 * 3 / 2));
 * await clip.close();
 * ```
 *
 * @module
 */
import {
  checkClipFrame,
  type ClipEncoder,
  ClipEncoderError,
  type ClipEncoding,
  type ClipSpec,
  h264Args,
} from "../../pipeline/mod.ts";

/** Options of {@link NativeClipEncoder}. */
export interface NativeClipEncoderOptions {
  /** The ffmpeg executable. Default `ffmpeg`. */
  readonly ffmpegPath?: string;
  /** Encoder. Default `"libx264"`; e.g. `"h264_v4l2m2m"` for a hardware encoder. */
  readonly codec?: string;
  /** Encoder threads. Default: ffmpeg's choice (all cores). */
  readonly threads?: number;
}

/** Encodes clips with the system ffmpeg. */
export class NativeClipEncoder implements ClipEncoder {
  /** `"native"`. */
  readonly backend = "native";
  readonly #options: NativeClipEncoderOptions;
  readonly #children = new Set<Deno.ChildProcess>();
  #closed = false;

  /** Creates the encoder; nothing starts until a clip opens. */
  constructor(options: NativeClipEncoderOptions = {}) {
    if (
      options.threads !== undefined && !(Number.isInteger(options.threads) && options.threads > 0)
    ) {
      throw new RangeError(`Cannot encode with ${options.threads} threads: a positive integer`);
    }
    this.#options = options;
  }

  /** Starts an ffmpeg process for one clip. */
  open(spec: ClipSpec, options: { signal?: AbortSignal } = {}): Promise<ClipEncoding> {
    options.signal?.throwIfAborted();
    if (this.#closed) {
      return Promise.reject(new ClipEncoderError("Cannot open a clip: the encoder is closed"));
    }
    const args = h264Args(spec, {
      input: "pipe:0",
      output: "pipe:1",
      ...(this.#options.codec ? { codec: this.#options.codec } : {}),
      ...(this.#options.threads ? { threads: this.#options.threads } : {}),
    });
    const path = this.#options.ffmpegPath ?? "ffmpeg";
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(path, { args, stdin: "piped", stdout: "piped", stderr: "piped" })
        .spawn();
    } catch (cause) {
      return Promise.reject(
        new ClipEncoderError(`Cannot start ffmpeg "${path}": ${(cause as Error).message}`, {
          cause,
        }),
      );
    }
    this.#children.add(child);
    // Only for the message of a failure: unreadable, it says nothing more than the exit status.
    const stderr = new Response(child.stderr).text().catch(() => "");
    const status = child.status.finally(() => this.#children.delete(child));
    const stdin = child.stdin.getWriter();
    let frames = 0;
    let bytes = 0;
    let ended = false;
    const flushed = Promise.withResolvers<void>();
    const output = child.stdout.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, c) {
          bytes += chunk.length;
          c.enqueue(chunk);
        },
        flush: () => flushed.resolve(),
      }),
    );
    const failure = async (what: string, cause?: unknown) => {
      const s = await status;
      const why = (await stderr).trim().split("\n").slice(-3).join(" | ");
      return new ClipEncoderError(
        `ffmpeg ${what} after ${frames} frames (exit ${s.code}${s.signal ? `, ${s.signal}` : ""})` +
          (why ? `: ${why}` : ""),
        { cause },
      );
    };
    return Promise.resolve({
      spec,
      output,
      write: async (frame, o = {}) => {
        checkClipFrame(spec, frame);
        if (ended) throw new ClipEncoderError("Cannot write to a clip that has ended");
        o.signal?.throwIfAborted();
        try {
          await stdin.write(frame);
        } catch (cause) {
          throw await failure("died", cause);
        }
        frames++;
      },
      close: async () => {
        ended = true;
        // Fails when ffmpeg is gone already (its pipe closed): its exit status then says why,
        // with this as the cause.
        let closing: unknown;
        await stdin.close().catch((e) => (closing = e));
        const s = await status;
        if (!s.success) throw await failure("failed", closing);
        // The reader of `output` has every byte once the stream flushes.
        await flushed.promise;
        return { frames, bytes };
      },
      abort: () => {
        ended = true;
        // The process is killed next: a pipe that fails to abort (ffmpeg gone) has nothing left.
        stdin.abort().catch(() => {/* the kill below ends it */});
        killUnlessExited(child);
      },
    });
  }

  /** Kills the processes of clips still open. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.#closed = true;
    for (const c of this.#children) killUnlessExited(c);
    await Promise.allSettled([...this.#children].map((c) => c.status));
  }
}

/** Kills an ffmpeg process; one that has exited already (Deno says so, a TypeError) needs none. */
function killUnlessExited(child: Deno.ChildProcess): void {
  try {
    child.kill("SIGKILL");
  } catch (e) {
    if (!(e instanceof TypeError && /already terminated/i.test(e.message))) throw e;
  }
}
