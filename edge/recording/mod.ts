/**
 * Recording door sessions on the device: clips encoded (ffmpeg.wasm or the system ffmpeg),
 * spooled on disk under a quota, uploaded and announced.
 *
 * @example
 * ```ts
 * import { ClipSpool } from "./mod.ts";
 *
 * using spool = ClipSpool.open({ dir: "/tmp/clips", quotaBytes: 1 << 30 });
 * console.log(spool.usage());
 * ```
 *
 * @module
 */
export {
  ClipSpool,
  type ClipSpoolOptions,
  type SpoolAlert,
  SpoolClosedError,
  type SpooledClip,
  SpoolFullError,
} from "./clip_spool.ts";
export {
  clipObjectName,
  ClipVerifyError,
  uploadBlob,
  type UploadBlobOptions,
  uploadClip,
  type UploadClipOptions,
  type UploadedClip,
} from "./clip_uploader.ts";
export {
  DeviceRecording,
  type DeviceRecordingOptions,
  type RecordingStats,
} from "./device_recording.ts";
export { NativeClipEncoder, type NativeClipEncoderOptions } from "./native_clip_encoder.ts";
