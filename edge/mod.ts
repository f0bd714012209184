/**
 * The device program of Vendstream as whoever runs or ports it uses it: the agent that runs
 * unattended on each device of a vending machine, its validated configuration, the hardware
 * interface it drives (and the Linux GPIO and V4L2 cameras that implement it), the device's
 * provisioning, and the update supervisor that switches firmware slots.
 *
 * Each part has its own surface for whoever extends it: `agent/`, `config/`, `delivery/` (the
 * outbox, the NATS bus, commands, clock sync, region failover), `hardware/`, `provisioning/`,
 * `recording/` (the clip spool and uploads), `updates/` (artifact download, slots, the
 * updater), `sim/` (the simulated machine, named as such) and `testing/` (fault hooks, wired
 * only by `main.ts`).
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
export {
  type DoorLock,
  type DoorSensor,
  type DoorState,
  ffmpegCamera,
  type FfmpegCameraOptions,
  gpioCommands,
  type GpioWiring,
  type Hardware,
  type LedColor,
  LinuxHardware,
  listV4l2Devices,
  type Runner,
  type StatusLed,
  v4l2Input,
} from "./hardware/mod.ts";
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
  type HealthReport,
  OtaSlots,
  runSupervisor,
  type SupervisorOptions,
  SWITCH_EXIT_CODE,
} from "./updates/mod.ts";
