/**
 * Remote cameras: the secondary device publishes its camera's frames (stamped on the primary's
 * clock, converted to I420 to halve the bytes) and the primary reads them back as a source.
 * The transport is a {@link Publisher} on one side and any async iterable of messages on the
 * other; edge/ plugs in NATS.
 *
 * @module
 */
import { decodeFrame, encodeFrame, subjects } from "../protocol/mod.ts";
import type { DeviceAddress } from "../protocol/mod.ts";
import type { PixelKernels } from "../wasm/mod.ts";
import { createFrame, type Frame } from "./frame.ts";
import type { Publisher } from "./publisher.ts";
import type { SignalSink } from "./signal.ts";
import type { StageMetrics } from "./stage_metrics.ts";

/** Options of {@link remoteFrameSink}. */
export interface RemoteFrameSinkOptions {
  /** The sending device (its region and id name the subject). */
  readonly device: DeviceAddress;
  /** Maps this device's timestamps onto the primary's clock. Default: unchanged. */
  readonly toReference?: (ts: number) => number;
  /** Converts RGBA frames to I420 before sending when given. */
  readonly kernels?: PixelKernels;
  /** Metrics of this stage. */
  readonly metrics?: StageMetrics;
}

/** Publishes frames written to it; each frame is released once sent. */
export function remoteFrameSink(
  publisher: Publisher,
  options: RemoteFrameSinkOptions,
): WritableStream<Frame> {
  return new WritableStream<Frame>({
    async write(frame) {
      using f = frame;
      const start = performance.now();
      options.metrics?.recordIn();
      const i420 = f.format === "rgba" && options.kernels
        ? options.kernels.rgbaToI420({ data: f.data, width: f.width, height: f.height }).data
        : undefined;
      const bytes = encodeFrame({
        v: 1,
        deviceId: f.deviceId,
        cameraId: f.cameraId,
        seq: f.seq,
        ts: options.toReference ? options.toReference(f.ts) : f.ts,
        width: f.width,
        height: f.height,
        format: i420 ? "i420" : f.format,
      }, i420 ?? f.data);
      await publisher.publish(subjects.frames(options.device, f.cameraId), bytes);
      options.metrics?.recordOut(performance.now() - start);
    },
  });
}

/** Options of {@link remoteSource}. */
export interface RemoteSourceOptions {
  /** Camera id reported when a message is too broken to name its own. */
  readonly cameraId: string;
  /** Where undecodable messages are reported. */
  readonly signals?: SignalSink;
  /** Metrics of this source. */
  readonly metrics?: StageMetrics;
  /** Reference clock for signal times. Default `Date.now`. */
  readonly now?: () => number;
}

/** Frames decoded from encoded-frame messages; broken messages are reported and skipped. */
export function remoteSource(
  messages: AsyncIterable<Uint8Array>,
  options: RemoteSourceOptions,
): ReadableStream<Frame> {
  const iterator = messages[Symbol.asyncIterator]();
  const now = options.now ?? (() => Date.now());
  return new ReadableStream<Frame>({
    async pull(controller) {
      for (;;) {
        const next = await iterator.next();
        if (next.done) return controller.close();
        options.metrics?.recordIn();
        const decoded = decodeFrame(next.value);
        if (!decoded.ok) {
          options.metrics?.recordError();
          await options.signals?.emit({
            type: "frame_error",
            cameraId: options.cameraId,
            at: now(),
            stage: "remote_source",
            reason: decoded.error.message,
          });
          continue;
        }
        const { header: { v: _version, ...header }, pixels } = decoded.value;
        options.metrics?.recordOut(0);
        controller.enqueue(createFrame({ ...header, data: pixels }));
        return;
      }
    },
    async cancel() {
      await iterator.return?.();
    },
  }, new CountQueuingStrategy({ highWaterMark: 0 }));
}
