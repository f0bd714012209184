/**
 * The cabinet's hardware behind one interface: door, lock, cameras (ffmpeg on Linux), and the
 * system's own figures (CPU, memory, disk).
 *
 * @example
 * ```ts
 * import { LinuxHardware } from "./mod.ts";
 *
 * console.log(typeof LinuxHardware);
 * ```
 *
 * @module
 */
export {
  ffmpegCamera,
  type FfmpegCameraOptions,
  listV4l2Devices,
  v4l2Input,
} from "./ffmpeg_camera.ts";
export {
  type DoorLock,
  type DoorSensor,
  type DoorState,
  type Hardware,
  type LedColor,
  type StatusLed,
} from "./hardware.ts";
export {
  gpioCommands,
  type GpioWiring,
  LinuxHardware,
  type LinuxHardwareOptions,
  type Runner,
} from "./linux_hardware.ts";
export { type SystemStats, type SystemStatsOptions, SystemStatsReader } from "./system_stats.ts";
