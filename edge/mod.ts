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
export { Agent, type AgentOptions, type RemoteCamera } from "./agent/mod.ts";
export {
  type AgentConfig,
  AgentConfigSchema,
  ConfigError,
  loadAgentConfig,
  parseAgentConfig,
  PlanogramSchema,
  RecognitionConfigSchema,
} from "./config/mod.ts";
export { natsClockProbe, serveClock } from "./delivery/mod.ts";
export {
  CommandFailure,
  type CommandHandler,
  CommandProcessor,
  type CommandProcessorOptions,
  type CommandRefusal,
  type CommandResult,
} from "./delivery/mod.ts";
export {
  ffmpegCamera,
  type FfmpegCameraOptions,
  listV4l2Devices,
  v4l2Input,
} from "./hardware/mod.ts";
export {
  type DoorLock,
  type DoorSensor,
  type DoorState,
  type Hardware,
  type LedColor,
  type StatusLed,
} from "./hardware/mod.ts";
export { gpioCommands, type GpioWiring, LinuxHardware, type Runner } from "./hardware/mod.ts";
export {
  type NatsMessages,
  natsMessages,
  type NatsMessagesOptions,
  natsPublisher,
} from "./delivery/mod.ts";
export {
  type AckPublisher,
  Outbox,
  type OutboxEntry,
  OutboxFullError,
  type OutboxOptions,
  type OutboxStats,
} from "./delivery/mod.ts";
export {
  type CartDecider,
  type CartDecision,
  GroundTruthCartDecider,
  type SceneState,
  SimulatedHardware,
  SimulatedScene,
  SimulatedShopper,
} from "./sim/mod.ts";
export { linkScene, type SceneLinkOptions } from "./sim/mod.ts";
export {
  ClaimError,
  identityConfig,
  identityFiles,
  provisionDevice,
  type ProvisionOptions,
  readIdentity,
  renewCredentials,
} from "./provisioning/mod.ts";
export {
  ClipSpool,
  type ClipSpoolOptions,
  type SpoolAlert,
  SpoolClosedError,
  type SpooledClip,
  SpoolFullError,
} from "./recording/mod.ts";
export {
  clipObjectName,
  ClipVerifyError,
  uploadBlob,
  type UploadBlobOptions,
  uploadClip,
  type UploadClipOptions,
  type UploadedClip,
} from "./recording/mod.ts";
export {
  DeviceRecording,
  type DeviceRecordingOptions,
  type RecordingStats,
} from "./recording/mod.ts";
export { type ChunkStore, FileChunkStore, PooledChunkStore } from "./updates/mod.ts";
export {
  DeviceRecognition,
  type DeviceRecognitionOptions,
  onnxRuntime,
  readModelDir,
} from "./agent/mod.ts";
export {
  ArtifactVerifyError,
  fetchArtifacts,
  type FetchArtifactsOptions,
  type FetchProgress,
  type FetchResult,
} from "./updates/mod.ts";
export {
  OtaSlots,
  type OtaState,
  otherSlot,
  type SlotInfo,
  type SlotName,
  type Trial,
  type UpdateOutcome,
} from "./updates/mod.ts";
export {
  type HealthReport,
  runSupervisor,
  type SupervisorOptions,
  SWITCH_EXIT_CODE,
} from "./updates/mod.ts";
export {
  type DeploymentOrder,
  UpdateError,
  Updater,
  type UpdaterOptions,
  type UpdateStep,
} from "./updates/mod.ts";
export { SimulatedUpdateDevice, type SimulatedUpdateDeviceOptions } from "./sim/mod.ts";
export { NativeClipEncoder, type NativeClipEncoderOptions } from "./recording/mod.ts";
export { type SystemStats, SystemStatsReader } from "./hardware/mod.ts";
export {
  DEVICE_RECONNECT,
  forceReconnect,
  type HomeFirst,
  homeFirst,
  returnHome,
} from "./delivery/mod.ts";
