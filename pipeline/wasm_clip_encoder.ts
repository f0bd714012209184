/**
 * The default clip encoder: a pool of long-lived ffmpeg.wasm instances (libx264, one Worker
 * each), fed raw frames through shared memory. An instance serves clip after clip without being
 * instantiated again; one that crashes is dropped and the next clip starts a fresh one.
 *
 * @example
 * ```ts
 * import { WasmClipEncoder } from "./wasm_clip_encoder.ts";
 *
 * await using encoder = new WasmClipEncoder({ instances: 3 });
 * const clip = await encoder.open({ width: 640, height: 480, fps: 15 });
 * const mp4 = new Response(clip.output).bytes();
 * await clip.write(new Uint8Array(640 * 480 * 3 / 2));
 * await clip.close();
 * console.log((await mp4).length);
 * ```
 *
 * @module
 */
import { FFMPEG_INPUT, FFMPEG_OUTPUT, FfmpegWorker } from "../wasm/mod.ts";
import {
  checkClipFrame,
  type ClipEncoder,
  ClipEncoderError,
  type ClipEncoding,
  type ClipSpec,
  type EncodeResult,
  h264Args,
} from "./clip_encoder.ts";

/** Options of {@link WasmClipEncoder}. */
export interface WasmClipEncoderOptions {
  /** Most ffmpeg.wasm instances alive at once (clips encoded at once). Default 3. */
  readonly instances?: number;
  /** Bytes of each instance's input ring. Default 8 MiB. */
  readonly ringBytes?: number;
}

/** A pool of ffmpeg.wasm instances that encode clips. */
export class WasmClipEncoder implements ClipEncoder {
  /** `"wasm"`. */
  readonly backend = "wasm";
  readonly #max: number;
  readonly #ringBytes: number | undefined;
  readonly #idle: FfmpegWorker[] = [];
  readonly #all = new Set<FfmpegWorker>();
  readonly #waiting: Array<() => void> = [];
  #starting = 0;
  #closed = false;
  /** Instances started so far (a crash makes the pool start another). */
  started = 0;

  /** Creates the pool; instances start on first use. */
  constructor(options: WasmClipEncoderOptions = {}) {
    const n = options.instances ?? 3;
    if (!Number.isInteger(n) || n < 1 || n > 16) {
      throw new RangeError(`Cannot pool ${n} ffmpeg.wasm instances: 1-16`);
    }
    this.#max = n;
    this.#ringBytes = options.ringBytes;
  }

  /** Instances alive now. */
  get instances(): number {
    return this.#all.size;
  }

  /**
   * Starts the pool's instances ahead of the first clip: a cold start of ffmpeg.wasm takes
   * seconds, during which the first door session's frames would wait (and the live queue in
   * front of the recorder drops them).
   */
  async warm(): Promise<void> {
    const missing = this.#max - this.#all.size - this.#starting;
    const workers = await Promise.all(
      Array.from({ length: Math.max(0, missing) }, () => this.#acquire(undefined)),
    );
    for (const w of workers) this.#release(w);
  }

  /** Starts a clip on an idle instance, starting one if the pool has room. */
  async open(spec: ClipSpec, options: { signal?: AbortSignal } = {}): Promise<ClipEncoding> {
    const args = h264Args(spec, { input: FFMPEG_INPUT, output: FFMPEG_OUTPUT, threads: 1 });
    const worker = await this.#acquire(options.signal);
    let job;
    try {
      job = worker.run(args);
    } catch (cause) {
      this.#release(worker);
      throw new ClipEncoderError(`Cannot start a clip: ${(cause as Error).message}`, { cause });
    }
    let frames = 0;
    let ended = false;
    const done = job.done.finally(() => this.#release(worker));
    // Handled here so an aborted clip (nobody awaits it) is no unhandled rejection; a failure
    // is close()'s to report, which awaits `done` and throws it.
    done.catch(() => {});
    const crashed = (cause: unknown) =>
      new ClipEncoderError(
        `The ffmpeg.wasm encoder died during a ${spec.width}x${spec.height} clip after ` +
          `${frames} frames: ${(cause as Error).message}`,
        { cause },
      );
    return {
      spec,
      output: job.output,
      write: async (frame, o = {}) => {
        checkClipFrame(spec, frame);
        if (ended) throw new ClipEncoderError("Cannot write to a clip that has ended");
        try {
          await job.write(frame, o);
        } catch (cause) {
          if (o.signal?.aborted) throw cause;
          throw crashed(cause);
        }
        frames++;
      },
      close: async (): Promise<EncodeResult> => {
        ended = true;
        job.end();
        let result;
        try {
          result = await done;
        } catch (cause) {
          throw crashed(cause);
        }
        if (result.code !== 0) {
          throw new ClipEncoderError(
            `ffmpeg.wasm exited with code ${result.code}: ${result.log.slice(-3).join(" | ")}`,
          );
        }
        return { frames, bytes: result.bytes };
      },
      abort: () => {
        ended = true;
        job.abort();
      },
    };
  }

  /** Kills every instance (a test hook for crashes mid-clip). */
  killAll(): void {
    for (const w of this.#all) w.kill();
  }

  /** Stops every instance. */
  [Symbol.asyncDispose](): Promise<void> {
    this.#closed = true;
    for (const w of this.#all) w[Symbol.dispose]();
    this.#all.clear();
    this.#idle.length = 0;
    for (const wake of this.#waiting.splice(0)) wake();
    return Promise.resolve();
  }

  async #acquire(signal: AbortSignal | undefined): Promise<FfmpegWorker> {
    for (;;) {
      signal?.throwIfAborted();
      if (this.#closed) throw new ClipEncoderError("Cannot open a clip: the encoder is closed");
      const idle = this.#idle.pop();
      if (idle?.alive) return idle;
      if (idle) {
        this.#all.delete(idle);
        continue;
      }
      if (this.#all.size + this.#starting < this.#max) {
        this.#starting++;
        try {
          const w = await FfmpegWorker.start({
            ...(this.#ringBytes ? { ringBytes: this.#ringBytes } : {}),
            ...(signal ? { signal } : {}),
          });
          this.started++;
          this.#all.add(w);
          return w;
        } catch (cause) {
          throw new ClipEncoderError(`Cannot start ffmpeg.wasm: ${(cause as Error).message}`, {
            cause,
          });
        } finally {
          this.#starting--;
        }
      }
      await new Promise<void>((resolve) => {
        this.#waiting.push(resolve);
        signal?.addEventListener("abort", () => resolve(), { once: true });
      });
    }
  }

  #release(worker: FfmpegWorker): void {
    if (worker.alive && !this.#closed) this.#idle.push(worker);
    else this.#all.delete(worker);
    this.#waiting.shift()?.();
  }
}
