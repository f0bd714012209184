/**
 * The camera pipeline: the device's cameras (synthetic or V4L2 through ffmpeg), tapped for
 * recording; on a primary, merged with the secondary's cameras (received over NATS), validated
 * and synchronised into frame sets for recognition; on a secondary, sent to the primary stamped
 * with the primary's clock. It keeps the latest frame of each camera (for snapshots) and when
 * the first frame came (for the health of an update on trial).
 *
 * @module
 */
import type { NatsConnection } from "@nats-io/nats-core";
import {
  type Frame,
  type FrameSet,
  FrameSync,
  liveQueue,
  mergeStreams,
  type MetricsRegistry,
  remoteFrameSink,
  remoteSource,
  runClockSync,
  validateFrames,
} from "../../pipeline/mod.ts";
import { type DeviceAddress, subjects } from "../../protocol/mod.ts";
import { loadWasmKernels } from "../../wasm/mod.ts";
import type { AgentConfig } from "../config/mod.ts";
import { natsClockProbe, natsMessages, natsPublisher } from "../delivery/mod.ts";
import { ffmpegCamera, v4l2Input } from "../hardware/mod.ts";
import type { DeviceRecording } from "../recording/mod.ts";
import type { SimulatedScene } from "../sim/mod.ts";
import type { AgentLog, FailureLog } from "./_log_ring.ts";
import { sleep } from "../../runtime/mod.ts";

/** A camera of another device of the machine that this (primary) device receives over NATS. */
export interface RemoteCamera {
  /** Device that has the camera. */
  readonly deviceId: string;
  /** Camera id. */
  readonly cameraId: string;
  /** Frames per second. */
  readonly fps: number;
}

/** Options of {@link CameraPipeline}. */
export interface CameraPipelineOptions {
  /** The configuration in force (its cameras' settings change with the shadow). */
  readonly config: Pick<
    AgentConfig,
    "cameras" | "role" | "deviceId" | "region" | "primaryDeviceId"
  >;
  /** This device's address (the frames a secondary sends are from it). */
  readonly address: DeviceAddress;
  /** The scene synthetic cameras film. */
  readonly scene: Pick<SimulatedScene, "camera">;
  /** Metrics of the pipeline's stages. */
  readonly metrics: MetricsRegistry;
  /** Cameras of the secondary device this primary receives. */
  readonly remoteCameras: readonly RemoteCamera[];
  /** The recording each frame is offered to, if the device records. */
  readonly recording: () => Pick<DeviceRecording, "offer"> | undefined;
  /** The recognition each frame set is shown to, if one serves. */
  readonly recognition: () => { observe(set: FrameSet): void } | undefined;
  /** The first connection to NATS. */
  readonly connecting: Promise<NatsConnection>;
  /** When the agent started (`performance.now()`). */
  readonly started: number;
  /** Aborts when the agent stops. */
  readonly stopSignal: AbortSignal;
  /** Runs a background loop in the agent's task group (see the agent's tasks). */
  readonly task: (
    name: string,
    run: () => Promise<unknown>,
    options?: { retry?: boolean },
  ) => void;
  /** Adds work to the agent's task group (the stop waits for it). */
  readonly track: (work: Promise<unknown>) => void;
  /** Log sink. */
  readonly log: AgentLog;
  /** Failures that must not stop the agent. */
  readonly failed: FailureLog;
}

/** The device's camera pipeline: not running until {@link CameraPipeline.restart}. */
export class CameraPipeline {
  readonly #options: CameraPipelineOptions;
  #pipeline: AbortController | undefined;
  readonly #latest = new Map<string, Frame>();
  #lastSet: FrameSet | undefined;
  #firstFrameAt: number | undefined;

  /** A pipeline that has not started. */
  constructor(options: CameraPipelineOptions) {
    this.#options = options;
  }

  /** When the first frame came (ms after the agent started), if one did. */
  get firstFrameAt(): number | undefined {
    return this.#firstFrameAt;
  }

  /** The latest frame of camera `cameraId`, if one came. */
  latest(cameraId: string): Frame | undefined {
    return this.#latest.get(cameraId);
  }

  /** The cameras frames came from. */
  cameraIds(): string[] {
    return [...this.#latest.keys()];
  }

  /** Stops the pipeline and releases the last frame set. */
  stop(): void {
    this.#pipeline?.abort();
    this.#lastSet?.[Symbol.dispose]();
  }

  /** (Re)starts the pipeline with the cameras' settings in force. */
  restart(): void {
    const { config, metrics } = this.#options;
    this.#pipeline?.abort();
    const controller = new AbortController();
    this.#pipeline = controller;
    const signal = AbortSignal.any([controller.signal, this.#options.stopSignal]);
    const cams = config.cameras.map((c) => ({ config: c, stream: this.#camera(c, signal) }));
    if (config.role === "secondary") {
      this.#options.task(
        "send to primary",
        () => this.#sendToPrimary(cams.map((c) => c.stream), signal),
        { retry: false },
      );
      return;
    }
    const remote = this.#options.remoteCameras.map((r) => ({
      config: { cameraId: r.cameraId, fps: r.fps },
      stream: this.#remote(r, signal),
    }));
    const all = [
      ...cams.map((c) => ({ config: c.config, stream: Promise.resolve(c.stream) })),
      ...remote,
    ];
    if (all.length === 0) return;
    const sync = new FrameSync({
      cameras: all.map((c) => ({ cameraId: c.config.cameraId, fps: c.config.fps })),
      metrics: metrics.stage("frame_sync"),
      signal,
    });
    const formats = new Map(
      config.cameras.map((
        c,
      ) => [c.cameraId, { width: c.width, height: c.height, format: "rgba" as const }]),
    );
    const validate = validateFrames(formats, { metrics: metrics.stage("validate") });
    Promise.all(all.map((c) => c.stream)).then((streams) => {
      // Remote frames arrive in their own format (I420): only local cameras are validated here.
      const local = mergeStreams(streams.slice(0, cams.length)).pipeThrough(validate);
      return mergeStreams([local, ...streams.slice(cams.length)]).pipeTo(sync.writable, { signal });
    }).catch((e) => {
      // Aborted: the pipeline restarts or the agent stops.
      if (!signal.aborted) this.#options.failed("frame_sync", "frame sync input failed", e);
    });
    this.#options.track(this.#frameSets(sync, signal));
  }

  /** A local camera's frames (offered to the recording), through a queue that drops when full. */
  #camera(c: AgentConfig["cameras"][number], signal: AbortSignal): ReadableStream<Frame> {
    const { config, metrics: registry } = this.#options;
    const metrics = registry.stage(`camera_${c.cameraId}`);
    const source = c.source.kind === "synthetic"
      ? this.#options.scene.camera(c.cameraId, {
        deviceId: config.deviceId,
        width: c.width,
        height: c.height,
        fps: c.fps,
        signal,
      })
      : ffmpegCamera({
        cameraId: c.cameraId,
        deviceId: config.deviceId,
        width: c.width,
        height: c.height,
        fps: c.fps,
        input: v4l2Input(c.source.device, {
          width: c.width,
          height: c.height,
          fps: c.fps,
          ...(c.source.inputFormat ? { inputFormat: c.source.inputFormat } : {}),
        }),
        metrics,
        signal,
      });
    const q = liveQueue<Frame>(4, { metrics });
    const recording = this.#options.recording();
    const tapped = recording
      ? source.pipeThrough(
        new TransformStream<Frame, Frame>({
          transform(f, c) {
            recording.offer(f);
            c.enqueue(f);
          },
        }),
      )
      : source;
    tapped.pipeTo(q.writable, { signal }).catch((e) => {
      // Aborted: the pipeline restarts or the agent stops, and the camera's stream ends.
      if (signal.aborted) return;
      this.#options.failed(`camera_${c.cameraId}`, "camera stream failed", e, {
        cameraId: c.cameraId,
      });
    });
    return q.readable;
  }

  /** A camera of the secondary, received over NATS once connected. */
  async #remote(r: RemoteCamera, signal: AbortSignal): Promise<ReadableStream<Frame>> {
    const { config, metrics } = this.#options;
    const nc = await this.#options.connecting;
    const messages = natsMessages(
      nc,
      subjects.frames({ region: config.region, deviceId: r.deviceId }, r.cameraId),
      { signal, capacity: 4 },
    );
    return remoteSource(messages, {
      cameraId: r.cameraId,
      metrics: metrics.stage(`camera_${r.cameraId}`),
    });
  }

  /** Shows each frame set to the recognition and keeps its frames as the latest. */
  async #frameSets(sync: FrameSync, signal: AbortSignal): Promise<void> {
    try {
      for await (const set of sync.readable) {
        this.#firstFrameAt ??= performance.now() - this.#options.started;
        this.#options.recognition()?.observe(set);
        this.#lastSet?.[Symbol.dispose]();
        this.#lastSet = set;
        for (const f of set.frames.values()) this.#latest.set(f.cameraId, f);
      }
    } catch (e) {
      // Aborted: the pipeline restarts or the agent stops, and the frame sets end with it.
      if (!signal.aborted) this.#options.failed("frame_sync", "frame sets stopped", e);
    }
  }

  async #sendToPrimary(streams: ReadableStream<Frame>[], signal: AbortSignal): Promise<void> {
    const { config, metrics, log } = this.#options;
    if (streams.length === 0) return;
    const nc = await this.#options.connecting;
    const primary = { region: config.region, deviceId: config.primaryDeviceId! };
    const model = await runClockSync(
      natsClockProbe(nc, primary, { deviceId: config.deviceId }),
      {
        signal,
        onError: (e) => log("warn", "clock sync exchange failed", { error: e.message }),
      },
    );
    // Frames stamped before the first successful exchange would carry the wrong time.
    while (!model.ready && !signal.aborted) await sleep(500);
    const kernels = await loadWasmKernels();
    const sink = remoteFrameSink(natsPublisher(nc), {
      device: this.#options.address,
      toReference: (ts) => model.toReference(ts),
      kernels,
      metrics: metrics.stage("remote_sink"),
    });
    await mergeStreams(streams).pipeThrough(
      new TransformStream<Frame, Frame>({
        transform: (f, c) => {
          this.#firstFrameAt ??= performance.now() - this.#options.started;
          this.#latest.set(f.cameraId, { ...f, data: f.data.slice(), [Symbol.dispose]() {} });
          c.enqueue(f);
        },
      }),
    ).pipeTo(sink, { signal }).catch((e) => {
      // Aborted: the pipeline restarts or the agent stops. Anything else fails the task (logged).
      if (!signal.aborted) throw e;
    });
  }
}
