/**
 * The device runtime of Vendstream: the agent that runs unattended on each device of a vending
 * machine, and the runtime, hardware and NATS specifics that plug into the pipeline's
 * interfaces: cameras through the system ffmpeg (V4L2), NATS adapters, clock sync over NATS,
 * the durable outbox, remote commands, and simulated and Linux GPIO hardware.
 *
 * @example
 * ```ts
 * import { Agent, loadAgentConfig } from "./mod.ts";
 *
 * const config = await loadAgentConfig("/etc/vendstream/agent.json");
 * await using agent = await Agent.start(config);
 * ```
 *
 * @module
 */
export { Agent, type AgentOptions, type RemoteCamera } from "./agent.ts";
export {
  type AgentConfig,
  AgentConfigSchema,
  ConfigError,
  loadAgentConfig,
  parseAgentConfig,
  PlanogramSchema,
  RecognitionConfigSchema,
} from "./agent_config.ts";
export { natsClockProbe, serveClock } from "./clock_service.ts";
export {
  CommandFailure,
  type CommandHandler,
  CommandProcessor,
  type CommandProcessorOptions,
  type CommandRefusal,
  type CommandResult,
} from "./command_processor.ts";
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
  SimulatedHardware,
  type StatusLed,
} from "./hardware.ts";
export { gpioCommands, type GpioWiring, LinuxHardware, type Runner } from "./linux_hardware.ts";
export {
  type NatsMessages,
  natsMessages,
  type NatsMessagesOptions,
  natsPublisher,
} from "./nats_bus.ts";
export {
  type AckPublisher,
  Outbox,
  type OutboxEntry,
  OutboxFullError,
  type OutboxOptions,
  type OutboxStats,
} from "./outbox.ts";
export {
  type CartDecider,
  type CartDecision,
  GroundTruthCartDecider,
  type SceneState,
  SimulatedScene,
  SimulatedShopper,
} from "./simulated_machine.ts";
export { linkScene, type SceneLinkOptions } from "./scene_link.ts";
export {
  ClaimError,
  identityConfig,
  identityFiles,
  provisionDevice,
  type ProvisionOptions,
  readIdentity,
  renewCredentials,
} from "./provisioning.ts";
export {
  ClipSpool,
  type ClipSpoolOptions,
  type SpoolAlert,
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
export { type ChunkStore, FileChunkStore, PooledChunkStore } from "./chunk_store.ts";
export {
  DeviceRecognition,
  type DeviceRecognitionOptions,
  onnxRuntime,
  readModelDir,
} from "./device_recognition.ts";
export {
  ArtifactVerifyError,
  fetchArtifacts,
  type FetchArtifactsOptions,
  type FetchProgress,
  type FetchResult,
} from "./artifact_fetcher.ts";
export {
  OtaSlots,
  type OtaState,
  otherSlot,
  type SlotInfo,
  type SlotName,
  type Trial,
  type UpdateOutcome,
} from "./ota_slots.ts";
export {
  type HealthReport,
  runSupervisor,
  type SupervisorOptions,
  SWITCH_EXIT_CODE,
} from "./supervisor.ts";
export {
  type DeploymentOrder,
  UpdateError,
  Updater,
  type UpdaterOptions,
  type UpdateStep,
} from "./updater.ts";
export {
  SimulatedUpdateDevice,
  type SimulatedUpdateDeviceOptions,
} from "./simulated_update_device.ts";
export { NativeClipEncoder, type NativeClipEncoderOptions } from "./native_clip_encoder.ts";
export { type SystemStats, SystemStatsReader } from "./system_stats.ts";
export {
  DEVICE_RECONNECT,
  forceReconnect,
  type HomeFirst,
  homeFirst,
  returnHome,
} from "./region_failover.ts";
