/**
 * A long-lived ffmpeg.wasm instance in a Worker of its own, fed raw bytes through a shared ring
 * and streaming its output back while it runs. One instance runs job after job (clip after
 * clip) without being instantiated again; a job that crashes the instance rejects and the
 * instance is gone (start a new one).
 *
 * @example
 * ```ts
 * import { FFMPEG_INPUT, FFMPEG_OUTPUT, FfmpegWorker } from "./ffmpeg_worker.ts";
 *
 * using ffmpeg = await FfmpegWorker.start();
 * const job = ffmpeg.run([
 *   "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", "64x48", "-r", "15", "-i", FFMPEG_INPUT,
 *   "-c:v", "libx264", "-movflags", "frag_keyframe+empty_moov", "-f", "mp4", FFMPEG_OUTPUT,
 * ]);
 * await job.write(new Uint8Array(64 * 48 * 3 / 2));
 * job.end();
 * const mp4 = await new Response(job.output).bytes();
 * console.log((await job.done).code, mp4.length);
 * ```
 *
 * @module
 */
import { createRingBuffer, RingWriter } from "./_byte_ring.ts";
import type { FfmpegWorkerReply, FfmpegWorkerRequest } from "./_ffmpeg_messages.ts";

/**
 * The web Worker, taken when this module loads: onnxruntime-web's Node.js build replaces
 * `globalThis.Worker` with `worker_threads.Worker` when it starts, which runs no web worker.
 */
const WebWorker: typeof Worker = globalThis.Worker;

/** The path ffmpeg reads the job's input from. */
export const FFMPEG_INPUT = "/dev/vs_in";
/** The path ffmpeg writes the job's output to (not seekable: use a streamable format). */
export const FFMPEG_OUTPUT = "/dev/vs_out";

/** The ffmpeg.wasm worker died: it crashed, ran out of memory or was killed. */
export class FfmpegCrashedError extends Error {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "FfmpegCrashedError";
  }
}

/** How a job ended. */
export interface FfmpegJobResult {
  /** ffmpeg's exit code: 0 is success. */
  readonly code: number;
  /** The last lines ffmpeg logged. */
  readonly log: readonly string[];
  /** Bytes of output. */
  readonly bytes: number;
}

/** One run of ffmpeg in the worker. */
export interface FfmpegJob {
  /** Feeds input bytes; resolves once they are in the ring (backpressure). */
  write(bytes: Uint8Array, options?: { signal?: AbortSignal }): Promise<void>;
  /** Ends the input: ffmpeg sees end-of-file after the last byte. */
  end(): void;
  /** Gives up: ffmpeg's next read fails and it exits with an error. */
  abort(): void;
  /** The output, as ffmpeg writes it. */
  readonly output: ReadableStream<Uint8Array>;
  /** Settles when ffmpeg has exited; rejects with {@link FfmpegCrashedError} if the worker died. */
  readonly done: Promise<FfmpegJobResult>;
}

/** What {@link FfmpegWorker.start} takes. */
export interface FfmpegWorkerOptions {
  /** Size of the input ring, bytes. Default 8 MiB (several raw 720p frames). */
  readonly ringBytes?: number;
  /** Cancels the start. */
  readonly signal?: AbortSignal;
}

interface Running {
  readonly id: number;
  readonly output: ReadableStreamDefaultController<Uint8Array>;
  readonly resolve: (r: FfmpegJobResult) => void;
  readonly reject: (e: Error) => void;
}

/**
 * The worker's script: the module beside this one in a checkout, `ffmpeg_worker.js` beside the
 * bundled program in a firmware bundle (built by `./vend build edge`).
 */
export const FFMPEG_WORKER_URL: URL = import.meta.url.endsWith(".ts")
  ? new URL("./_ffmpeg_worker_script.ts", import.meta.url)
  : new URL("./ffmpeg_worker.js", import.meta.url);

/** A long-lived ffmpeg.wasm instance in a Worker. */
export class FfmpegWorker implements Disposable {
  readonly #worker: Worker;
  readonly #ring: RingWriter;
  #jobs = 0;
  #running: Running | undefined;
  #dead: Error | undefined;

  private constructor(worker: Worker, ring: SharedArrayBuffer) {
    this.#worker = worker;
    this.#ring = new RingWriter(ring);
  }

  /** Starts a worker and loads ffmpeg.wasm in it (about 0.3 s). */
  static async start(options: FfmpegWorkerOptions = {}): Promise<FfmpegWorker> {
    const ring = createRingBuffer(options.ringBytes ?? 8 << 20);
    const worker = new WebWorker(FFMPEG_WORKER_URL, { type: "module" });
    const self = new FfmpegWorker(worker, ring);
    await new Promise<void>((resolve, reject) => {
      const fail = (e: Error) => {
        worker.terminate();
        reject(e);
      };
      options.signal?.addEventListener("abort", () => fail(options.signal!.reason), {
        once: true,
      });
      worker.onerror = (e) => {
        e.preventDefault();
        fail(new FfmpegCrashedError(`Cannot start the ffmpeg.wasm worker: ${e.message}`));
      };
      worker.onmessage = (e: MessageEvent<FfmpegWorkerReply>) => {
        if (e.data.type === "ready") resolve();
      };
    });
    worker.onmessage = (e: MessageEvent<FfmpegWorkerReply>) => self.#onMessage(e.data);
    worker.onerror = (e) => {
      e.preventDefault();
      self.#die(new FfmpegCrashedError(`The ffmpeg.wasm worker crashed: ${e.message}`));
    };
    self.#post({ type: "ring", ring });
    return self;
  }

  /** False once the worker has died or been killed. */
  get alive(): boolean {
    return this.#dead === undefined;
  }

  /** True while a job runs. */
  get busy(): boolean {
    return this.#running !== undefined;
  }

  /** Runs ffmpeg with `args` (without the program name); one job at a time. */
  run(args: readonly string[]): FfmpegJob {
    if (this.#dead) throw new FfmpegCrashedError("Cannot run ffmpeg: its worker is gone");
    if (this.#running) throw new Error("Cannot run ffmpeg: a job is already running");
    const id = ++this.#jobs;
    this.#ring.reset();
    let output!: ReadableStreamDefaultController<Uint8Array>;
    const readable = new ReadableStream<Uint8Array>({ start: (c) => void (output = c) });
    const done = Promise.withResolvers<FfmpegJobResult>();
    this.#running = { id, output, resolve: done.resolve, reject: done.reject };
    this.#post({ type: "run", job: id, args: [...args] });
    const ring = this.#ring;
    const alive = () => this.#dead === undefined && this.#running?.id === id;
    return {
      write: (bytes, options = {}) => {
        if (!alive()) {
          return Promise.reject(
            this.#dead ?? new Error(`Cannot write to ffmpeg job ${id}: it has ended`),
          );
        }
        return ring.write(bytes, { ...options, alive }).catch((e) => {
          throw this.#dead ?? e;
        });
      },
      end: () => alive() && ring.close(),
      abort: () => alive() && ring.abort(),
      output: readable,
      done: done.promise,
    };
  }

  /** Kills the worker at once (what a crash or an out-of-memory kill does). */
  kill(): void {
    this.#worker.terminate();
    this.#die(new FfmpegCrashedError("The ffmpeg.wasm worker was killed"));
  }

  /** Stops the worker. */
  [Symbol.dispose](): void {
    if (this.#dead) return;
    this.#worker.terminate();
    this.#die(new FfmpegCrashedError("The ffmpeg.wasm worker was stopped"));
  }

  #post(msg: FfmpegWorkerRequest): void {
    this.#worker.postMessage(msg);
  }

  #die(error: Error): void {
    this.#dead ??= error;
    const r = this.#running;
    this.#running = undefined;
    if (!r) return;
    this.#ring.abort();
    r.output.error(error); // a no-op on a stream closed or cancelled already
    r.reject(error);
  }

  #onMessage(msg: FfmpegWorkerReply): void {
    const r = this.#running;
    if (msg.type === "ready" || !r || msg.job !== r.id) return;
    if (msg.type === "data") {
      // The reader cancelled: ffmpeg's output is not wanted.
      unlessClosed(() => r.output.enqueue(msg.bytes));
      return;
    }
    this.#running = undefined;
    if (msg.type === "done") {
      unlessClosed(() => r.output.close()); // cancelled: nothing to close
      r.resolve({ code: msg.code, log: msg.log, bytes: msg.bytes });
    } else {
      // A trap inside ffmpeg.wasm leaves its memory in an unknown state: retire the instance.
      const error = new FfmpegCrashedError(`ffmpeg.wasm failed: ${msg.message}`);
      r.output.error(error); // a no-op on a cancelled stream
      r.reject(error);
      this.kill();
    }
  }
}

/**
 * Runs `f`, an enqueue or close on a stream's controller: on a stream the reader cancelled (or
 * that is closed already) streams throw a TypeError, and there is nothing to do. Anything else
 * throws.
 */
function unlessClosed(f: () => void): void {
  try {
    f();
  } catch (e) {
    if (!(e instanceof TypeError)) throw e;
  }
}
