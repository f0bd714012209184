/**
 * Frame sync: aligns the frames of a machine's cameras into frame sets by timestamp, within a
 * tolerance. It copes with different frame rates (the slowest live camera sets the pace),
 * jitter, dropped and late frames, timestamps that go backwards, and a camera that stops: it
 * never waits on a dead camera longer than `cameraTimeoutMs`, reports it lost, and takes it back
 * when its frames return.
 *
 * @example
 * ```ts
 * import { FrameSync } from "./frame_sync.ts";
 *
 * const sync = new FrameSync({ cameras: [{ cameraId: "cam-1", fps: 15 }, { cameraId: "cam-2", fps: 15 }] });
 * // merged camera streams -> sync.writable; sync.readable -> frame sets
 * ```
 *
 * @module
 */
import type { Frame } from "./frame.ts";
import { createFrameSet, type FrameSet } from "./frame_set.ts";
import type { PipelineSignal, SignalSink } from "./signal.ts";
import type { StageMetrics } from "./stage_metrics.ts";

/** A camera the sync expects, with its nominal frame rate. */
export interface SyncCamera {
  /** Camera id. */
  readonly cameraId: string;
  /** Nominal frames per second. */
  readonly fps: number;
}

/** Options of {@link FrameSyncCore} and {@link FrameSync}. */
export interface FrameSyncOptions {
  /** The cameras to align. */
  readonly cameras: readonly SyncCamera[];
  /** Largest distance from a set's time for a frame to join it, ms. Default: half of each camera's own period, plus 1 ms. */
  readonly toleranceMs?: number;
  /** Longest wait past a set's time for slower cameras' frames, ms. Default: 2 periods of the slowest camera, at least 150. */
  readonly maxWaitMs?: number;
  /** A camera with no frame for this long is lost, ms. Default 1000. */
  readonly cameraTimeoutMs?: number;
  /** Frames held per camera before the oldest is dropped. Default 30. */
  readonly maxQueue?: number;
}

/** What the core produces: frame sets and signals, in order. */
export type SyncOutput = { readonly kind: "set"; readonly set: FrameSet } | {
  readonly kind: "signal";
  readonly signal: PipelineSignal;
};

interface CameraState {
  readonly cameraId: string;
  readonly fps: number;
  readonly order: number;
  readonly tolerance: number;
  queue: Frame[];
  lastTs: number;
  lastArrival: number;
  lost: boolean;
}

/**
 * The synchronous heart of frame sync, driven by `push` and `poll` with an explicit reference
 * clock, so that tests can replay any timing exactly.
 */
export class FrameSyncCore {
  readonly #cams = new Map<string, CameraState>();
  readonly #maxTolerance: number;
  readonly #maxWait: number;
  readonly #timeout: number;
  readonly #maxQueue: number;
  readonly #metrics: StageMetrics | undefined;
  #lastSetTs = -Infinity;
  #started: number | undefined;

  /** Creates the core; `metrics` counts frames in, sets out, drops and refused frames. */
  constructor(options: FrameSyncOptions, metrics?: StageMetrics) {
    if (!Array.isArray(options.cameras) || options.cameras.length === 0) {
      throw new TypeError("FrameSync needs at least one camera");
    }
    options.cameras.forEach((c, order) => {
      if (typeof c.cameraId !== "string" || c.cameraId === "") {
        throw new TypeError(`Invalid camera id ${JSON.stringify(c.cameraId)}`);
      }
      if (!(c.fps > 0)) throw new RangeError(`Invalid fps ${c.fps} for camera "${c.cameraId}"`);
      if (this.#cams.has(c.cameraId)) throw new TypeError(`Camera "${c.cameraId}" listed twice`);
      const tolerance = options.toleranceMs ?? 500 / c.fps + 1; // +1 ms: timestamps are not exact
      if (!(tolerance > 0)) throw new RangeError(`Invalid toleranceMs ${tolerance}`);
      this.#cams.set(c.cameraId, {
        cameraId: c.cameraId,
        fps: c.fps,
        order,
        tolerance,
        queue: [],
        lastTs: -Infinity,
        lastArrival: -Infinity,
        lost: false,
      });
    });
    const slowest = Math.min(...options.cameras.map((c) => c.fps));
    this.#maxTolerance = Math.max(...[...this.#cams.values()].map((c) => c.tolerance));
    this.#maxWait = options.maxWaitMs ?? Math.max(150, 2000 / slowest);
    this.#timeout = options.cameraTimeoutMs ?? 1000;
    this.#maxQueue = options.maxQueue ?? 30;
    this.#metrics = metrics;
  }

  /** Cameras currently lost. */
  get lostCameras(): string[] {
    return [...this.#cams.values()].filter((c) => c.lost).map((c) => c.cameraId);
  }

  /** Frames waiting for a set. */
  get pending(): number {
    let n = 0;
    for (const c of this.#cams.values()) n += c.queue.length;
    return n;
  }

  /** Takes a frame that arrived at reference time `now`; returns what is ready. */
  push(frame: Frame, now: number): SyncOutput[] {
    this.#started ??= now;
    this.#metrics?.recordIn();
    const out: SyncOutput[] = [];
    const cam = this.#cams.get(frame.cameraId);
    const refuse = (reason: string) => {
      this.#metrics?.recordError();
      frame[Symbol.dispose]();
      out.push({
        kind: "signal",
        signal: {
          type: "frame_error",
          cameraId: String(frame.cameraId),
          at: now,
          stage: "frame_sync",
          reason,
        },
      });
    };
    if (!cam) {
      refuse(`unknown camera "${frame.cameraId}"`);
      return out;
    }
    if (!Number.isFinite(frame.ts)) {
      refuse(`timestamp ${frame.ts} is not a number`);
      return out;
    }
    if (frame.ts <= cam.lastTs) {
      refuse(`timestamp went backwards from ${cam.lastTs} to ${frame.ts}`);
      return out;
    }
    if (cam.lost) {
      cam.lost = false;
      out.push({
        kind: "signal",
        signal: {
          type: "camera_resumed",
          cameraId: cam.cameraId,
          at: now,
          gapMs: now - cam.lastArrival,
        },
      });
    }
    cam.lastTs = frame.ts;
    cam.lastArrival = now;
    if (frame.ts < this.#lastSetTs - this.#maxTolerance) {
      // Too late to join any set still to come.
      this.#metrics?.recordDrop();
      frame[Symbol.dispose]();
    } else {
      cam.queue.push(frame);
      while (cam.queue.length > this.#maxQueue) {
        cam.queue.shift()![Symbol.dispose]();
        this.#metrics?.recordDrop();
      }
    }
    this.#drain(now, out);
    return out;
  }

  /** Checks for lost cameras and overdue sets at reference time `now`. */
  poll(now: number): SyncOutput[] {
    this.#started ??= now;
    const out: SyncOutput[] = [];
    this.#drain(now, out);
    return out;
  }

  /** Emits what can still be emitted and drops the rest (end of stream). */
  flush(now: number): SyncOutput[] {
    const out: SyncOutput[] = [];
    this.#drain(Infinity, out, now);
    for (const c of this.#cams.values()) {
      this.#metrics?.recordDrop(c.queue.length);
      for (const f of c.queue.splice(0)) f[Symbol.dispose]();
    }
    return out;
  }

  #checkLost(now: number, out: SyncOutput[]): void {
    for (const c of this.#cams.values()) {
      const silentSince = c.lastArrival === -Infinity ? this.#started! : c.lastArrival;
      if (!c.lost && now - silentSince > this.#timeout) {
        c.lost = true;
        const lastFrameAt = c.lastTs === -Infinity ? null : c.lastTs;
        const reason = `no frame for ${
          Math.round(now - silentSince)
        } ms (timeout ${this.#timeout} ms)`;
        out.push({
          kind: "signal",
          signal: { type: "camera_lost", cameraId: c.cameraId, at: now, lastFrameAt, reason },
        });
      }
    }
  }

  /** The camera that paces the sets: the slowest live one, first listed on ties. */
  #reference(): CameraState | undefined {
    let best: CameraState | undefined;
    for (const c of this.#cams.values()) {
      if (c.lost) continue;
      if (!best || c.fps < best.fps || (c.fps === best.fps && c.order < best.order)) best = c;
    }
    return best;
  }

  #drain(now: number, out: SyncOutput[], clock = now): void {
    if (Number.isFinite(now)) this.#checkLost(now, out);
    for (;;) {
      const ref = this.#reference();
      const head = ref?.queue[0];
      if (!ref || !head) {
        // No live reference frame: frames of other cameras older than any possible set go.
        return;
      }
      const t = head.ts;
      if (t <= this.#lastSetTs) {
        // The pacing camera changed (one came back) and this frame is older than a set already out.
        ref.queue.shift();
        head[Symbol.dispose]();
        this.#metrics?.recordDrop();
        continue;
      }
      const overdue = now - t >= this.#maxWait;
      let ready = true;
      for (const c of this.#cams.values()) {
        if (c === ref || c.lost) continue;
        const last = c.queue[c.queue.length - 1];
        if (!(last && last.ts >= t) && !overdue) ready = false;
      }
      if (!ready) return;
      ref.queue.shift();
      const frames = new Map<string, Frame>([[ref.cameraId, head]]);
      const missing: string[] = [];
      for (const c of this.#cams.values()) {
        if (c === ref) continue;
        let best = -1;
        for (let i = 0; i < c.queue.length; i++) {
          const d = Math.abs(c.queue[i]!.ts - t);
          if (d <= c.tolerance && (best < 0 || d < Math.abs(c.queue[best]!.ts - t))) best = i;
        }
        // Frames before the chosen one (or all up to t) can match no later set.
        const cut = best >= 0 ? best : c.queue.findIndex((f) => f.ts > t);
        const stale = c.queue.splice(0, cut < 0 ? c.queue.length : cut);
        this.#metrics?.recordDrop(stale.length);
        for (const f of stale) f[Symbol.dispose]();
        if (best >= 0) frames.set(c.cameraId, c.queue.shift()!);
        else missing.push(c.cameraId);
      }
      this.#lastSetTs = t;
      this.#metrics?.recordOut(Math.max(0, (Number.isFinite(clock) ? clock : now) - t));
      out.push({ kind: "set", set: createFrameSet(t, frames, missing) });
    }
  }
}

/** Options of {@link FrameSync}: the core's, plus where signals go and the clock. */
export interface FrameSyncStageOptions extends FrameSyncOptions {
  /** Reference clock, Unix ms. Default `Date.now`. */
  readonly now?: () => number;
  /** Where camera-lost, camera-resumed and frame-error signals go (awaited). */
  readonly signals?: SignalSink;
  /** Metrics of this stage. */
  readonly metrics?: StageMetrics;
  /** How often to check for overdue sets and lost cameras, ms. Default 20. */
  readonly pollMs?: number;
  /** Stops the stage. */
  readonly signal?: AbortSignal;
}

/** The frame sync stage: write frames of every camera (any order between cameras), read frame sets. */
export class FrameSync implements TransformStream<Frame, FrameSet> {
  /** Frames in. */
  readonly writable: WritableStream<Frame>;
  /** Frame sets out. */
  readonly readable: ReadableStream<FrameSet>;
  /** The core, for inspection. */
  readonly core: FrameSyncCore;

  /** Creates the stage. */
  constructor(options: FrameSyncStageOptions) {
    const core = new FrameSyncCore(options, options.metrics);
    this.core = core;
    const now = options.now ?? (() => Date.now());
    let timer: ReturnType<typeof setInterval> | undefined;
    let busy = Promise.resolve();
    const deliver = async (
      outputs: SyncOutput[],
      controller: TransformStreamDefaultController<FrameSet>,
    ) => {
      for (const o of outputs) {
        if (o.kind === "set") controller.enqueue(o.set);
        else await options.signals?.emit(o.signal);
      }
    };
    const stop = () => clearInterval(timer);
    const { readable, writable } = new TransformStream<Frame, FrameSet>(
      {
        start(controller) {
          timer = setInterval(() => {
            busy = busy.then(() => deliver(core.poll(now()), controller)).catch((e) =>
              controller.error(e)
            );
          }, options.pollMs ?? 20);
          options.signal?.addEventListener("abort", () => {
            stop();
            controller.error(options.signal!.reason);
          }, { once: true });
        },
        async transform(frame, controller) {
          await busy;
          await deliver(core.push(frame, now()), controller);
        },
        async flush(controller) {
          stop();
          await busy;
          await deliver(core.flush(now()), controller);
        },
        cancel() {
          stop();
        },
      },
      new CountQueuingStrategy({ highWaterMark: 8 }),
      new CountQueuingStrategy({ highWaterMark: 4 }),
    );
    this.readable = readable;
    this.writable = writable;
  }
}
