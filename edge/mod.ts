/**
 * The device runtime of Vendstream: the runtime, hardware and NATS specifics that plug into the
 * pipeline's interfaces. So far: cameras through the system ffmpeg (V4L2), NATS adapters for
 * the pipeline's publisher and message sources, and clock sync over NATS between a machine's
 * two devices. The agent itself (config, heartbeat, commands, outbox, single binary) is built
 * by the edge agent issue.
 *
 * @example
 * ```ts
 * import { ffmpegCamera, listV4l2Devices, v4l2Input } from "./mod.ts";
 *
 * const [device] = await listV4l2Devices();
 * if (device) {
 *   const frames = ffmpegCamera({
 *     cameraId: "cam-1", deviceId: "m001-a", width: 640, height: 480, fps: 15,
 *     input: v4l2Input(device, { width: 640, height: 480, fps: 15 }),
 *   });
 * }
 * ```
 *
 * @module
 */
export { natsClockProbe, serveClock } from "./clock_service.ts";
export {
  ffmpegCamera,
  type FfmpegCameraOptions,
  listV4l2Devices,
  v4l2Input,
} from "./ffmpeg_camera.ts";
export {
  type NatsMessages,
  natsMessages,
  type NatsMessagesOptions,
  natsPublisher,
} from "./nats_bus.ts";
