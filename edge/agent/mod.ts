/**
 * The device agent: it starts, connects and stops the device program's parts (door sessions,
 * camera pipeline, shadow, commands, recognition, updates) as one task group.
 *
 * @example
 * ```ts
 * import { Agent, loadAgentConfig } from "../mod.ts";
 *
 * const config = await loadAgentConfig("agent.json");
 * await using agent = await Agent.start(config);
 * console.log(agent.connected);
 * ```
 *
 * @module
 */
export { Agent, type AgentOptions, type RemoteCamera } from "./agent.ts";
export type { AgentHooks } from "./agent_hooks.ts";
export {
  DeviceRecognition,
  type DeviceRecognitionOptions,
  onnxRuntime,
  readModelDir,
} from "./device_recognition.ts";
