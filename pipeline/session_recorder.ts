/**
 * Records every door session from every camera: one MP4 clip per session and camera, from a
 * pre-roll before the door opened (kept as raw frames in a ring) to a post-roll after it closed.
 * Frames go to a {@link ClipEncoder} on a constant-rate timeline (a dropped frame repeats the
 * one before it, so a clip lasts as long as the session did), and the encoder's fragmented MP4
 * goes to a {@link ClipSink} as it is made. An encoder that dies mid-clip ends that clip as
 * `broken` and the rest of the session continues in a new part on a fresh encoder: a session is
 * never lost.
 *
 * @example
 * ```ts
 * import { SessionRecorder, WasmClipEncoder } from "./mod.ts";
 * import { loadWasmKernels } from "../wasm/mod.ts";
 *
 * const recorder = new SessionRecorder({
 *   encoder: new WasmClipEncoder(),
 *   kernels: await loadWasmKernels(),
 *   sink: { create: () => Promise.reject(new Error("a spool goes here")) },
 * });
 * recorder.open("s-1", Date.now());
 * // frames.pipeTo(recorder.writable); ... recorder.close("s-1", Date.now());
 * ```
 *
 * @module
 */
import type { PixelKernels } from "../wasm/mod.ts";
import {
  type ClipEncoder,
  type ClipEncoding,
  type ClipSpec,
  i420FrameBytes,
} from "./clip_encoder.ts";
import type { Frame } from "./frame.ts";
import type { SignalSink } from "./signal.ts";
import type { StageMetrics } from "./stage_metrics.ts";

/** What a clip is, when its storage is created. */
export interface ClipInfo {
  /** Door session. */
  readonly sessionId: string;
  /** Camera. */
  readonly cameraId: string;
  /** Device the camera is on. */
  readonly deviceId: string;
  /** 0 for a session's clip; 1, 2... for continuations after an encoder died. */
  readonly part: number;
  /** Frame size and rate. */
  readonly width: number;
  /** Frame height. */
  readonly height: number;
  /** Frames per second of the clip's timeline. */
  readonly fps: number;
  /** Time of the clip's first frame, reference clock ms. */
  readonly startTs: number;
  /** Encoder backend. */
  readonly backend: string;
}

/** How a clip ended. */
export interface ClipSummary {
  /** `"complete"`, or `"broken"` when the encoder died (the MP4 plays up to its last fragment). */
  readonly status: "complete" | "broken";
  /** Frames encoded (repeats that fill dropped frames included). */
  readonly frames: number;
  /** Time of the first and the last frame, reference clock ms. */
  readonly startTs: number;
  /** Time of the last frame. */
  readonly endTs: number;
  /** Why it is broken. */
  readonly reason?: string;
}

/** Storage for a clip being recorded. */
export interface ClipWriter {
  /** Appends MP4 bytes; rejects when they cannot be stored (disk full, quota). */
  write(bytes: Uint8Array): Promise<void>;
  /** The clip is over: keep it. */
  finish(summary: ClipSummary): Promise<void>;
  /** The clip is unusable: drop what was stored. */
  discard(reason: string): Promise<void>;
}

/** Where clips are stored (the edge's spool). */
export interface ClipSink {
  /** Starts storing a clip. */
  create(info: ClipInfo): Promise<ClipWriter>;
}

/** Options of {@link SessionRecorder}. */
export interface SessionRecorderOptions {
  /** The encoder. */
  readonly encoder: ClipEncoder;
  /** Where clips go. */
  readonly sink: ClipSink;
  /** Converts RGBA frames to I420. */
  readonly kernels: PixelKernels;
  /** Frames kept from before the door opens, ms. Default 2000. */
  readonly preRollMs?: number;
  /** Frames recorded after the door closes, ms. Default 1000. */
  readonly postRollMs?: number;
  /** Longest clip part, ms; a door left open continues in a new part. Default 300 000. */
  readonly maxClipMs?: number;
  /** x264 crf of the clips. Default 23. */
  readonly crf?: number;
  /** Where recording problems are reported. */
  readonly signals?: SignalSink;
  /** Metrics of the recorder. */
  readonly metrics?: StageMetrics;
  /** Clock for ending clips of cameras that stopped delivering. Default `Date.now`. */
  readonly now?: () => number;
  /** Called when the periodic check for cameras that stopped fails (it runs again). */
  readonly onError?: (error: Error) => void;
}

interface Raw {
  readonly ts: number;
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

interface Clip {
  readonly sessionId: string;
  readonly part: number;
  readonly spec: ClipSpec;
  readonly startTs: number;
  readonly encoding: ClipEncoding;
  readonly writer: ClipWriter;
  readonly pump: Promise<string | undefined>;
  frames: number;
  last: Uint8Array | undefined;
  lastTs: number;
}

interface Camera {
  readonly cameraId: string;
  deviceId: string;
  ring: Raw[];
  clip: Clip | undefined;
  /** Sessions this camera has recorded or failed to record (never started again). */
  done: string[];
  fps: number;
  lastTs: number;
  /** When the recorder was last done with a frame of it, by `now()` (a camera that stopped
   * sends none). */
  lastWall: number;
  /** The recorder's busy time then: its silence excludes the time the recorder was busy since. */
  busyAt: number;
}

interface Session {
  readonly id: string;
  readonly openedAt: number;
  closedAt: number | undefined;
  /** When close() was called, by `now()`. */
  closedWall: number | undefined;
}

/** Fills dropped frames by repeating the last one, up to this many at a time. */
const MAX_FILL = 60;

/** Records door sessions from all cameras into clips. */
export class SessionRecorder implements AsyncDisposable {
  /** Frames of any camera, in time order per camera. The recorder disposes them. */
  readonly writable: WritableStream<Frame>;
  readonly #o: SessionRecorderOptions;
  readonly #pre: number;
  readonly #post: number;
  readonly #max: number;
  readonly #cams = new Map<string, Camera>();
  readonly #sessions: Session[] = [];
  readonly #finishing = new Set<Promise<void>>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #chain: Promise<void> = Promise.resolve();
  /** Time spent working on frames so far (reference: `options.now`). */
  #busyMs = 0;
  /** Clips finished (complete or broken) so far. */
  clips = 0;

  /** Creates the recorder. */
  constructor(options: SessionRecorderOptions) {
    const pre = options.preRollMs ?? 2000;
    const post = options.postRollMs ?? 1000;
    const max = options.maxClipMs ?? 300_000;
    for (
      const [name, v, hi] of [["preRollMs", pre, 30_000], ["postRollMs", post, 30_000], [
        "maxClipMs",
        max,
        3_600_000,
      ]] as const
    ) {
      if (!Number.isFinite(v) || v < 0 || v > hi) {
        throw new RangeError(`Cannot record with ${name} ${v}: 0-${hi}`);
      }
    }
    this.#o = options;
    this.#pre = pre;
    this.#post = post;
    this.#max = max;
    this.writable = new WritableStream<Frame>({
      write: (frame) => {
        const cameraId = frame.cameraId;
        return this.#serial(async () => {
          const now = this.#o.now ?? Date.now;
          const t0 = now();
          try {
            await this.#frame(frame);
          } finally {
            // No frame of any camera can come while the recorder works on one (a slow encoder
            // start holds the stream back): that time is not a camera's silence.
            const t1 = now();
            this.#busyMs += t1 - t0;
            const cam = this.#cams.get(cameraId);
            if (cam) {
              cam.lastWall = t1;
              cam.busyAt = this.#busyMs;
            }
          }
        });
      },
      close: () => this.#serial(() => this.#endAll("the camera stream ended")),
      abort: () => this.#serial(() => this.#endAll("the camera stream was aborted")),
    });
    // A camera that stops delivering frames must not keep its clip open forever.
    this.#timer = setInterval(
      () =>
        void this.#serial(() => this.#sweep()).catch((e) => {
          this.#o.metrics?.recordError();
          this.#o.onError?.(e as Error);
        }),
      500,
    );
  }

  /** The door opened: session `sessionId` starts at `ts` (reference clock ms). */
  open(sessionId: string, ts: number): void {
    if (typeof sessionId !== "string" || sessionId.length === 0) {
      throw new TypeError(`Cannot record session ${JSON.stringify(sessionId)}: not an id`);
    }
    if (!Number.isFinite(ts)) throw new RangeError(`Cannot open session at ${ts}: not a time`);
    if (this.#sessions.some((s) => s.id === sessionId)) return;
    this.#sessions.push({
      id: sessionId,
      openedAt: ts,
      closedAt: undefined,
      closedWall: undefined,
    });
  }

  /** The door closed: the session's clips end `postRollMs` after `ts`. */
  close(sessionId: string, ts: number): void {
    const s = this.#sessions.find((x) => x.id === sessionId);
    if (!s) return;
    s.closedAt = Math.max(ts, s.openedAt);
    s.closedWall = (this.#o.now ?? Date.now)();
  }

  /** Resolves when every clip in progress has ended and been handed to the sink. */
  async drain(): Promise<void> {
    await this.#serial(() => this.#endAll("the recorder is draining"));
    await Promise.allSettled([...this.#finishing]);
  }

  /** Ends the clips in progress and stops. */
  async [Symbol.asyncDispose](): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.drain();
  }

  #serial(task: () => Promise<void>): Promise<void> {
    const run = this.#chain.then(task);
    // The task's failure is its caller's (`run`); the chain itself goes on for the next task.
    this.#chain = run.catch(() => {});
    return run;
  }

  /** The session a frame at `ts` belongs to, with pre- and post-roll. */
  #sessionAt(ts: number): Session | undefined {
    return this.#sessions.find((s) =>
      ts >= s.openedAt - this.#pre && (s.closedAt === undefined || ts <= s.closedAt + this.#post)
    );
  }

  async #frame(frame: Frame): Promise<void> {
    using f = frame;
    this.#o.metrics?.recordIn();
    let cam = this.#cams.get(f.cameraId);
    if (!cam) {
      cam = {
        cameraId: f.cameraId,
        deviceId: f.deviceId,
        ring: [],
        clip: undefined,
        done: [],
        fps: 15,
        lastTs: f.ts,
        lastWall: 0,
        busyAt: 0,
      };
      this.#cams.set(f.cameraId, cam);
    }
    if (f.ts > cam.lastTs && f.ts - cam.lastTs < 1000) {
      // Estimate the camera's rate from its frame spacing (smoothed).
      cam.fps = cam.fps * 0.9 + (1000 / (f.ts - cam.lastTs)) * 0.1;
    }
    cam.lastTs = Math.max(cam.lastTs, f.ts);
    cam.lastWall = (this.#o.now ?? Date.now)();
    const clip = cam.clip;
    if (clip && (f.width !== clip.spec.width || f.height !== clip.spec.height)) {
      this.#o.metrics?.recordError();
      await this.#o.signals?.emit({
        type: "frame_error",
        cameraId: f.cameraId,
        at: f.ts,
        stage: "recorder",
        reason: `frame of ${f.width}x${f.height} in a ${clip.spec.width}x${clip.spec.height} ` +
          `clip of session ${clip.sessionId}: dropped`,
      });
      return;
    }
    const data = this.#toI420(f);
    if (!data) return;
    const raw = { ts: f.ts, width: f.width, height: f.height, data };
    if (clip) {
      const s = this.#sessions.find((x) => x.id === clip.sessionId);
      const over = !s || (s.closedAt !== undefined && f.ts > s.closedAt + this.#post);
      if (!over && f.ts - clip.startTs <= this.#max) {
        await this.#feed(cam, clip, raw);
        return;
      }
      await this.#end(cam, { wait: !over });
      if (s && !over) return this.#start(cam, s, [raw], clip.part + 1);
      this.#forget();
    }
    const session = this.#sessionAt(f.ts);
    if (session && !cam.done.includes(session.id)) {
      const preroll = [...cam.ring, raw].filter((r) => r.ts >= session.openedAt - this.#pre);
      cam.ring = [];
      await this.#start(cam, session, preroll, 0);
      return;
    }
    cam.ring.push(raw);
    while (cam.ring.length > 0 && cam.ring[0]!.ts < f.ts - this.#pre) cam.ring.shift();
  }

  #toI420(f: Frame): Uint8Array | undefined {
    if (f.format === "i420") return f.data.slice();
    return this.#o.kernels.rgbaToI420({ data: f.data, width: f.width, height: f.height }).data;
  }

  async #start(cam: Camera, session: Session, frames: Raw[], part: number): Promise<void> {
    const first = frames[0];
    if (!first) return;
    const spec: ClipSpec = {
      width: first.width,
      height: first.height,
      fps: Math.max(1, Math.round(cam.fps)),
      ...(this.#o.crf !== undefined ? { crf: this.#o.crf } : {}),
      metadata: { title: `${session.id} ${cam.cameraId}`, comment: `part ${part}` },
    };
    let encoding: ClipEncoding;
    try {
      encoding = await this.#o.encoder.open(spec);
    } catch (e) {
      return this.#failed(cam, session.id, `cannot start the encoder: ${(e as Error).message}`);
    }
    let writer: ClipWriter;
    try {
      writer = await this.#o.sink.create({
        sessionId: session.id,
        cameraId: cam.cameraId,
        deviceId: cam.deviceId,
        part,
        width: spec.width,
        height: spec.height,
        fps: spec.fps,
        startTs: first.ts,
        backend: this.#o.encoder.backend,
      });
    } catch (e) {
      encoding.abort();
      // The abort errors the output, so its cancel may reject with that; the clip's failure is
      // reported right here.
      encoding.output.cancel().catch(() => {});
      return this.#failed(cam, session.id, `cannot store the clip: ${(e as Error).message}`);
    }
    // Resolves with why the sink refused bytes, or undefined. An encoder that dies errors its
    // output too; that is handled where its write or close fails, as a broken clip.
    const pump = (async () => {
      const reader = encoding.output.getReader();
      for (;;) {
        let next;
        try {
          next = await reader.read();
        } catch {
          // The encoder died (its output errors with it): reported where its write or close
          // fails, as a broken clip.
          return undefined;
        }
        if (next.done) return undefined;
        try {
          await writer.write(next.value);
        } catch (e) {
          encoding.abort();
          // As above: the abort errors the output; the sink's refusal is what is reported.
          reader.cancel().catch(() => {});
          return (e as Error).message;
        }
      }
    })();
    const clip: Clip = {
      sessionId: session.id,
      part,
      spec,
      startTs: first.ts,
      encoding,
      writer,
      pump,
      frames: 0,
      last: undefined,
      lastTs: first.ts,
    };
    cam.clip = clip;
    for (const r of frames) {
      if (cam.clip !== clip) return;
      // Pre-roll frames of another size (the camera changed mode) cannot join the clip.
      if (r.width === spec.width && r.height === spec.height) await this.#feed(cam, clip, r);
    }
  }

  async #feed(cam: Camera, clip: Clip, raw: Raw): Promise<void> {
    if (raw.data.length !== i420FrameBytes(clip.spec)) return;
    const period = 1000 / clip.spec.fps;
    const index = Math.round((raw.ts - clip.startTs) / period);
    if (index < clip.frames) {
      this.#o.metrics?.recordDrop();
      return;
    }
    const fill = Math.min(index - clip.frames, MAX_FILL);
    try {
      for (let i = 0; i < fill && clip.last; i++) {
        await clip.encoding.write(clip.last);
        clip.frames++;
      }
      await clip.encoding.write(raw.data);
      clip.frames++;
      clip.last = raw.data;
      clip.lastTs = raw.ts;
      this.#o.metrics?.recordOut(0);
    } catch (e) {
      // The encoder died: end this part as broken, continue the session on a fresh encoder.
      const reason = (e as Error).message;
      await this.#end(cam, { broken: reason, wait: true });
      const s = this.#sessions.find((x) => x.id === clip.sessionId);
      await this.#o.signals?.emit({
        type: "recording_error",
        cameraId: cam.cameraId,
        at: raw.ts,
        sessionId: clip.sessionId,
        reason: `part ${clip.part} broken, continuing in part ${clip.part + 1}: ${reason}`,
      });
      if (s) await this.#start(cam, s, [raw], clip.part + 1);
    }
  }

  /**
   * Ends the camera's clip; `broken` says why it is not complete. With `wait` the clip is
   * finished before this returns (a new part follows on the encoder it frees); otherwise it
   * finishes in the background.
   */
  async #end(cam: Camera, how: { broken?: string; wait?: boolean } = {}): Promise<void> {
    const clip = cam.clip;
    if (!clip) return;
    cam.clip = undefined;
    this.#done(cam, clip.sessionId);
    const finishing = (async () => {
      let reason = how.broken;
      if (!reason) {
        try {
          await clip.encoding.close();
        } catch (e) {
          reason = (e as Error).message;
        }
      } else {
        clip.encoding.abort();
      }
      const stored = await clip.pump;
      if (stored !== undefined || clip.frames === 0) {
        await clip.writer.discard(stored ?? "no frames").catch((e) =>
          this.#report(cam, clip.sessionId, `cannot discard the clip: ${(e as Error).message}`)
        );
        if (stored !== undefined) await this.#failed(cam, clip.sessionId, stored);
        return;
      }
      const period = 1000 / clip.spec.fps;
      await clip.writer.finish({
        status: reason ? "broken" : "complete",
        frames: clip.frames,
        startTs: clip.startTs,
        endTs: clip.startTs + (clip.frames - 1) * period,
        ...(reason ? { reason } : {}),
      });
      this.clips++;
    })().catch((e) =>
      // The clip could not be handed over (the sink refused its end): reported, not lost silently.
      this.#report(cam, clip.sessionId, `cannot store the clip: ${(e as Error).message}`)
    ).catch(() => {
      // The report itself failed (the signal consumer is gone): counted in #report already.
    });
    this.#finishing.add(finishing);
    finishing.finally(() => this.#finishing.delete(finishing));
    if (how.wait) await finishing;
  }

  async #failed(cam: Camera, sessionId: string, reason: string): Promise<void> {
    this.#done(cam, sessionId);
    await this.#report(cam, sessionId, reason);
  }

  /** Counts and signals a recording error of `cam`'s clip of `sessionId`. */
  async #report(cam: Camera, sessionId: string, reason: string): Promise<void> {
    this.#o.metrics?.recordError();
    await this.#o.signals?.emit({
      type: "recording_error",
      cameraId: cam.cameraId,
      at: cam.lastTs,
      sessionId,
      reason,
    });
  }

  #done(cam: Camera, sessionId: string): void {
    if (!cam.done.includes(sessionId)) cam.done.push(sessionId);
    if (cam.done.length > 16) cam.done.shift();
  }

  /**
   * Sessions whose clips have all ended are forgotten: once every camera's frames are past the
   * post-roll (a camera whose frames lag behind the others' still gets its clip), or, for a
   * camera that stopped, 30 s after the door closed.
   */
  #forget(): void {
    const now = (this.#o.now ?? Date.now)();
    for (let i = this.#sessions.length - 1; i >= 0; i--) {
      const s = this.#sessions[i]!;
      if (s.closedAt === undefined) continue;
      const cams = [...this.#cams.values()];
      const live = cams.some((c) => c.clip?.sessionId === s.id);
      const allPast = cams.every((c) => c.lastTs > s.closedAt! + this.#post);
      const stale = s.closedWall !== undefined && now > s.closedWall + this.#post + 30_000;
      if (!live && (allPast || stale)) this.#sessions.splice(i, 1);
    }
  }

  async #sweep(): Promise<void> {
    const now = (this.#o.now ?? Date.now)();
    for (const cam of this.#cams.values()) {
      const s = cam.clip && this.#sessions.find((x) => x.id === cam.clip!.sessionId);
      // No frame for a while after the post-roll: the camera stopped; end the clip with what it
      // has. A camera whose frames still arrive, however late (a loaded device), is not cut: its
      // clip ends with the first frame past the post-roll.
      if (
        s?.closedWall !== undefined && now > s.closedWall + this.#post + 2000 &&
        now - cam.lastWall - (this.#busyMs - cam.busyAt) > 2000
      ) {
        await this.#end(cam);
      }
    }
    this.#forget();
  }

  async #endAll(_why: string): Promise<void> {
    for (const cam of this.#cams.values()) await this.#end(cam);
  }
}
