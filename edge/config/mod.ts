/**
 * The device program's configuration: one zod schema, loaded from a file (and the identity
 * provisioning wrote).
 *
 * @example
 * ```ts
 * import { loadAgentConfig } from "./mod.ts";
 *
 * const config = await loadAgentConfig("agent.json");
 * console.log(config.deviceId);
 * ```
 *
 * @module
 */
export {
  type AgentConfig,
  AgentConfigSchema,
  ConfigError,
  loadAgentConfig,
  parseAgentConfig,
  PlanogramSchema,
  RecognitionConfigSchema,
} from "./agent_config.ts";
