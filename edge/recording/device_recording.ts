/**
 * Recording on a device: every door session is recorded from each of the device's own cameras
 * (so the two devices of a machine share the encoding), spooled on disk under a quota, uploaded
 * to the object store when online, and announced with a clip-uploaded event through the outbox
 * once the object is complete and verified. Clips of a session stay protected from eviction
 * until its payment is settled: the device reads that from the region's PAYMENTS stream.
 *
 * @example
 * ```ts
 * import { DeviceRecording } from "./device_recording.ts";
 * import { loadAgentConfig } from "../config/mod.ts";
 * import { Outbox } from "../delivery/mod.ts";
 *
 * const config = await loadAgentConfig("agent.json");
 * using outbox = new Outbox(`${config.dataDir}/outbox.db`);
 * await using rec = await DeviceRecording.start(config, { outbox });
 * rec.doorOpened("s-1", Date.now());
 * ```
 *
 * @module
 */
import type { NatsConnection } from "@nats-io/nats-core";
import {
  type ClipEncoder,
  createFrame,
  type Frame,
  liveQueue,
  type PipelineSignal,
  SessionRecorder,
  type StageMetrics,
  WasmClipEncoder,
} from "../../pipeline/mod.ts";
import {
  clipUploaded,
  newEnvelope,
  pipelineEvent,
  SessionStatusReplySchema,
  subjects,
} from "../../protocol/mod.ts";
import { loadWasmKernels, type PixelKernels } from "../../wasm/mod.ts";
import type { AgentConfig } from "../config/mod.ts";
import { ClipSpool, type SpoolAlert, type SpooledClip } from "./clip_spool.ts";
import { clipObjectName, uploadClip } from "./clip_uploader.ts";
import { NativeClipEncoder } from "./native_clip_encoder.ts";
import type { Outbox } from "../delivery/mod.ts";

/** How long {@link DeviceRecording.close} waits for clips in progress by default. */
const STOP_GRACE_MS = 2000;

/** Clip counters for telemetry. */
export interface RecordingStats {
  /** Finished clips not yet uploaded. */
  readonly pending: number;
  /** Bytes of clips on disk. */
  readonly bytes: number;
  /** The spool's quota. */
  readonly quotaBytes: number;
  /** Clips refused so far because the spool or the disk was full. */
  readonly refused: number;
  /** Clips uploaded since start. */
  readonly uploaded: number;
}

/** What {@link DeviceRecording.start} takes besides the configuration. */
export interface DeviceRecordingOptions {
  /** The agent's outbox, through which clip-uploaded and error events go. */
  readonly outbox: Outbox;
  /** Log sink. */
  readonly log?: (
    level: "info" | "warn" | "error",
    msg: string,
    f?: Record<string, unknown>,
  ) => void;
  /** Metrics of the recorder stage. */
  readonly metrics?: StageMetrics;
  /** The encoder. Default: per `recording.backend`. */
  readonly encoder?: ClipEncoder;
}

/** Records, spools and uploads the device's session clips. */
export class DeviceRecording implements AsyncDisposable {
  /** The spool. */
  readonly spool: ClipSpool;
  /** Resolves once the clip encoders have started (they start with the recording). */
  readonly ready: Promise<void>;
  /** The recorder. */
  readonly recorder: SessionRecorder;
  readonly #config: AgentConfig;
  readonly #o: DeviceRecordingOptions;
  readonly #encoder: ClipEncoder;
  readonly #kernels: PixelKernels;
  readonly #queue: WritableStreamDefaultWriter<Frame>;
  readonly #feeding: Promise<void>;
  readonly #closed = new Map<string, number>();
  #refused = 0;
  #uploaded = 0;
  #settledAt = 0;
  #wake: (() => void) | undefined;
  #stopping = false;

  private constructor(
    config: AgentConfig,
    options: DeviceRecordingOptions,
    kernels: PixelKernels,
  ) {
    const rec = config.recording;
    this.#config = config;
    this.#o = options;
    this.#kernels = kernels;
    this.#encoder = options.encoder ?? (rec.backend === "native"
      ? new NativeClipEncoder({
        codec: rec.codec,
        ...(rec.threads ? { threads: rec.threads } : {}),
      })
      : new WasmClipEncoder({ instances: Math.max(1, config.cameras.length) }));
    this.spool = ClipSpool.open({
      dir: rec.dir ?? `${config.dataDir}/clips`,
      quotaBytes: rec.quotaBytes,
      onAlert: (a) => this.#alert(a),
      ...(options.log ? { log: options.log } : {}),
    });
    this.recorder = new SessionRecorder({
      encoder: this.#encoder,
      sink: this.spool,
      kernels,
      preRollMs: rec.preRollMs,
      postRollMs: rec.postRollMs,
      crf: rec.crf,
      signals: { emit: (s) => Promise.resolve(this.#signal(s)) },
      ...(options.metrics ? { metrics: options.metrics } : {}),
    });
    // The encoders start now, not at the first door session (a cold start takes seconds).
    this.ready = (this.#encoder.warm?.() ?? Promise.resolve()).catch((e) =>
      this.#o.log?.("warn", "clip encoder warm-up failed", { error: (e as Error).message })
    );
    // A bounded queue in front of the recorder: a slow encoder drops frames (the clip repeats
    // the previous one), it never stalls the live pipeline.
    const q = liveQueue<Frame>(8, options.metrics ? { metrics: options.metrics } : {});
    this.#queue = q.writable.getWriter();
    this.#feeding = q.readable.pipeTo(this.recorder.writable).catch((e) => {
      // The recorder failed: no clip is recorded from now on, while selling goes on. Said once,
      // and counted in the recorder stage's errors.
      options.metrics?.recordError();
      this.#o.log?.("error", "recording stopped: the recorder failed", { error: String(e) });
    });
  }

  /** Opens the spool and prepares the encoder. */
  static async start(
    config: AgentConfig,
    options: DeviceRecordingOptions,
  ): Promise<DeviceRecording> {
    return new DeviceRecording(config, options, await loadWasmKernels());
  }

  /** Offers a frame of a local camera (copied: the caller keeps and disposes its own). */
  offer(frame: Frame): void {
    if (this.#stopping) return; // a stop has begun: no new clip starts
    const data = frame.format === "rgba"
      ? this.#kernels.rgbaToI420({ data: frame.data, width: frame.width, height: frame.height })
        .data
      : frame.data.slice();
    // The queue takes every frame (a full one drops its oldest) until it is closed, which only
    // a stop does, and offers stop first: a refusal is unexpected.
    this.#queue.write(createFrame({ ...frame, format: "i420", data })).catch((e) => {
      this.#o.metrics?.recordError();
      this.#o.log?.("warn", "frame not queued for recording", {
        cameraId: frame.cameraId,
        error: String(e),
      });
    });
  }

  /** The door opened. */
  doorOpened(sessionId: string, ts: number): void {
    this.recorder.open(sessionId, ts);
  }

  /** The door closed. */
  doorClosed(sessionId: string, ts: number): void {
    this.recorder.close(sessionId, ts);
    this.#closed.set(sessionId, Date.now());
    setTimeout(() => this.#wake?.(), this.#config.recording.postRollMs + 500);
  }

  /** Counters for telemetry. */
  stats(): RecordingStats {
    return {
      pending: this.spool.pending().length,
      bytes: this.spool.usage(),
      quotaBytes: this.#config.recording.quotaBytes,
      refused: this.#refused,
      uploaded: this.#uploaded,
    };
  }

  /**
   * Uploads pending clips while connected, oldest first, and learns which sessions' payments
   * are settled. Runs until `signal` aborts; an upload that fails resumes on the next round.
   */
  async run(nc: NatsConnection, signal: AbortSignal): Promise<void> {
    const every = this.#config.recording.uploadIntervalMs;
    while (!signal.aborted) {
      for (const clip of this.spool.pending()) {
        if (signal.aborted || nc.isClosed()) break;
        try {
          await this.#upload(nc, clip, signal);
        } catch (e) {
          if (signal.aborted) break;
          this.#o.log?.("warn", "clip upload failed; it resumes later", {
            clip: clip.id,
            error: (e as Error).message,
          });
          break;
        }
      }
      await this.#settle(nc).catch((e) =>
        this.#o.log?.("warn", "cannot read payment states", { error: (e as Error).message })
      );
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, every);
        this.#wake = () => {
          clearTimeout(t);
          resolve();
        };
        signal.addEventListener("abort", () => this.#wake?.(), { once: true });
      });
    }
  }

  /**
   * Ends the clips in progress, stops the encoder and closes the spool. Clips still encoding
   * after `graceMs` (a slow device, emulation) are given up, said in the log: a stop never
   * waits on the encoder for longer than that.
   */
  async close(options: { graceMs?: number } = {}): Promise<void> {
    const graceMs = options.graceMs ?? STOP_GRACE_MS;
    this.#stopping = true;
    const drained = (async () => {
      await this.#queue.close().catch((e) =>
        // The stop goes on: the recorder is disposed of below all the same.
        this.#o.log?.("warn", "cannot close the recording queue", { error: String(e) })
      );
      await this.#feeding;
      await this.recorder[Symbol.asyncDispose]();
      return true;
    })();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<false>((r) => timer = setTimeout(() => r(false), graceMs));
    const inTime = await Promise.race([drained, late]).finally(() => clearTimeout(timer));
    if (!inTime) {
      this.#o.log?.("warn", "recording stopped before its clips in progress finished encoding", {
        graceMs,
      });
    }
    await this.#encoder[Symbol.asyncDispose]();
    this.spool[Symbol.dispose]();
  }

  /** Same as {@link DeviceRecording.close} with its default grace. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #upload(nc: NatsConnection, clip: SpooledClip, signal: AbortSignal): Promise<void> {
    const address = { region: this.#config.region, deviceId: this.#config.deviceId };
    // The event's id is derived from the clip's digest: announcing it again after a crash is
    // dropped as a duplicate. It is built (and checked) before anything is sent.
    const id = `clip-${clip.sha256.slice(0, 48)}`;
    const event = (object: string, bucket: string) =>
      clipUploaded.encode({
        ...newEnvelope(),
        id,
        deviceId: clip.deviceId,
        sessionId: clip.sessionId,
        cameraId: clip.cameraId,
        bucket,
        object,
        sha256: clip.sha256,
        bytes: clip.bytes,
        codec: "h264",
        width: clip.width,
        height: clip.height,
        frames: clip.frames,
        startTs: Math.round(clip.startTs),
        endTs: Math.round(clip.endTs),
      });
    event(clipObjectName(clip), "clips");
    const up = await uploadClip(nc, clip, {
      spool: this.spool,
      region: this.#config.region,
      signal,
    });
    this.#o.outbox.append({
      id,
      subject: subjects.clipUploaded(address),
      data: event(up.object, up.bucket),
    });
    this.spool.markUploaded(clip.id);
    this.#uploaded++;
    this.#o.log?.("info", "clip uploaded", {
      clip: clip.id,
      object: up.object,
      bytes: clip.bytes,
      resumedChunks: up.chunksResumed,
    });
  }

  /** Marks sessions settled whose last payment event is terminal; unpaid ones after a while. */
  async #settle(nc: NatsConnection): Promise<void> {
    // At most once a minute: a fleet of devices must not ask hard.
    if (Date.now() - this.#settledAt < 60_000) return;
    this.#settledAt = Date.now();
    const unsettled = this.spool.unsettledSessions().slice(0, 50);
    if (unsettled.length === 0) return;
    const keep = this.#config.recording.unpaidKeepMs;
    // The cloud says (only for this cabinet's sessions: devices do not read payment events).
    const msg = await nc.request(
      subjects.sessionStatus({ region: this.#config.region, deviceId: this.#config.deviceId }),
      JSON.stringify({ sessionIds: unsettled }),
      { timeout: 10_000 },
    );
    const reply = SessionStatusReplySchema.safeParse(msg.json());
    if (!reply.success) throw new Error("Unreadable answer about the sessions' payment");
    for (const sessionId of unsettled) {
      const status = reply.data.sessions[sessionId] ?? "none";
      if (status === "settled") this.spool.markSettled(sessionId);
      else if (status === "disputed") this.spool.markUnsettled(sessionId);
      else if (status === "none") {
        // A session nobody paid for (an operator's unlock): its clips are kept a while, then
        // may make room.
        const clips = this.spool.list().filter((c) => c.sessionId === sessionId);
        const closed = this.#closed.get(sessionId) ?? Math.min(...clips.map((c) => c.endTs));
        if (Date.now() - closed > keep) this.spool.markSettled(sessionId);
      }
    }
  }

  #alert(a: SpoolAlert): void {
    this.#refused++;
    this.#o.log?.("error", "clip spool full", { ...a });
    this.#emitError("spool", a.cameraId, a.reason);
  }

  #signal(s: PipelineSignal): void {
    if (s.type === "recording_error") {
      this.#o.log?.("warn", "recording error", { ...s });
      if (!/spool|disk/.test(s.reason)) this.#emitError("recorder", s.cameraId, s.reason);
    } else if (s.type === "frame_error") {
      this.#o.log?.("warn", "frame refused by the recorder", { ...s });
    }
  }

  #emitError(stage: string, cameraId: string, reason: string): void {
    const address = { region: this.#config.region, deviceId: this.#config.deviceId };
    const env = newEnvelope();
    this.#o.outbox.append({
      id: env.id,
      subject: subjects.pipelineEvent(address, "pipeline_error"),
      data: pipelineEvent.encode({
        ...env,
        deviceId: this.#config.deviceId,
        machineId: this.#config.machineId,
        type: "pipeline_error",
        stage,
        cameraId,
        reason: reason.slice(0, 500),
      }),
    });
  }
}
