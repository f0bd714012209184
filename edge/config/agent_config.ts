/**
 * The agent's configuration: a JSON file, overridden by environment variables, validated with
 * zod. A bad configuration is refused at start with every bad field listed.
 *
 * Environment overrides: `VEND_DEVICE_ID`, `VEND_MACHINE_ID`, `VEND_ROLE`, `VEND_REGION`,
 * `NATS_URL` (comma-separated servers to fail over between), `VEND_DATA_DIR`.
 *
 * @example
 * ```ts
 * import { loadAgentConfig } from "./agent_config.ts";
 *
 * const config = await loadAgentConfig("/etc/vendstream/agent.json");
 * ```
 *
 * @module
 */
import { z } from "zod";
import { identityConfig, readIdentity } from "../provisioning/mod.ts";

const token = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "must be 1-63 of a-z, 0-9 and '-'");
const natsUrl = z.string().regex(/^(nats|tls):\/\/[^\s/]+$/, "must be a URL like nats://host:4222");

/** A camera of this device. */
export const CameraConfigSchema = z.strictObject({
  cameraId: z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/, "must be 1-32 of a-z, 0-9 and '-'"),
  source: z.discriminatedUnion("kind", [
    z.strictObject({ kind: z.literal("synthetic") }),
    z.strictObject({
      kind: z.literal("v4l2"),
      device: z.string().regex(/^\/dev\/video\d+$/, "must be /dev/videoN"),
      inputFormat: z.string().optional(),
    }),
  ]),
  width: z.int().min(16).max(3840).default(640),
  height: z.int().min(16).max(2160).default(480),
  fps: z.int().min(1).max(60).default(15),
});

/** Recording of door sessions (see `DeviceRecording`). */
export const RecordingConfigSchema = z.strictObject({
  /** Records every door session from this device's cameras. */
  enabled: z.boolean().default(true),
  /** Encoder: ffmpeg.wasm (default) or the system ffmpeg. */
  backend: z.enum(["wasm", "native"]).default("wasm"),
  /** Encoder of the native backend, e.g. `h264_v4l2m2m` for a hardware one. */
  codec: z.string().regex(/^[a-z0-9_]{1,32}$/, "must be an ffmpeg encoder name").default("libx264"),
  /** Threads of the native encoder; default ffmpeg's choice. */
  threads: z.int().min(1).max(16).optional(),
  preRollMs: z.int().min(0).max(30_000).default(2000),
  postRollMs: z.int().min(0).max(30_000).default(1000),
  crf: z.int().min(0).max(51).default(23),
  /** Disk quota of the clip spool. */
  quotaBytes: z.int().min(1 << 20).default(2 * 1024 ** 3),
  /** Folder of the spool; default `<dataDir>/clips`. */
  dir: z.string().min(1).optional(),
  uploadIntervalMs: z.int().min(100).max(600_000).default(5000),
  /** How long clips of a session nobody paid for are protected from eviction. */
  unpaidKeepMs: z.int().min(0).default(24 * 3_600_000),
});

const unit = z.number().min(0).max(1);

/** A planogram file: each slot's SKU and where each camera sees it (0..1 picture units). */
export const PlanogramSchema = z.strictObject({
  slots: z.array(z.strictObject({
    shelf: z.int().min(0).max(63),
    slot: z.int().min(0).max(63),
    sku: z.string().min(1).max(32).nullable(),
    regions: z.record(
      z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/, "must be a camera id"),
      z.strictObject({ x0: unit, y0: unit, x1: unit, y1: unit }).refine(
        (r) => r.x1 > r.x0 && r.y1 > r.y0,
        "must have x1 > x0 and y1 > y0",
      ),
    ),
  })).min(1).max(4096),
});

/** Recognition of what was taken (see `DeviceRecognition`). */
export const RecognitionConfigSchema = z.strictObject({
  /** Folder of the model artifact (model.json and its .onnx). A model update replaces it. */
  model: z.string().min(1).optional(),
  /** onnxruntime-web (WASM, default) or onnxruntime-node where the device has it. */
  backend: z.enum(["wasm", "native"]).default("wasm"),
  threads: z.int().min(1).max(8).default(1),
  /** Below this cart confidence a session goes to review. */
  threshold: unit.default(0.8),
  /** The planogram file; a simulated cabinet derives its own. */
  planogram: z.string().min(1).optional(),
});

/** Schema of the agent's configuration. */
export const AgentConfigSchema = z.strictObject({
  deviceId: token,
  machineId: token,
  role: z.enum(["primary", "secondary"]),
  region: token.default("local"),
  /** The machine's primary device (the secondary syncs its clock with it and sends it frames). */
  primaryDeviceId: token.optional(),
  nats: z.strictObject({
    /** The home region's servers. */
    servers: z.array(natsUrl).min(1),
    /**
     * Other regions' servers, tried when none of the home region's answers; the device returns
     * home once a home server answers again.
     */
    failover: z.array(natsUrl).optional(),
    credentialsFile: z.string().min(1).optional(),
    /** The CA that signed the servers' certificates (TLS); the system's CAs when absent. */
    caFile: z.string().min(1).optional(),
  }),
  dataDir: z.string().min(1),
  heartbeatIntervalMs: z.int().min(100).max(600_000).default(5000),
  telemetryIntervalMs: z.int().min(500).max(3_600_000).default(15_000),
  hardware: z.enum(["simulated", "linux"]).default("simulated"),
  gpio: z.strictObject({
    chip: z.string().regex(/^gpiochip\d+$/, "must be gpiochipN"),
    lockLine: z.int().min(0),
    doorLine: z.int().min(0),
    ledLine: z.int().min(0).optional(),
    /** Line level that releases the lock. */
    unlockLevel: z.union([z.literal(0), z.literal(1)]).default(1),
  }).optional(),
  cameras: z.array(CameraConfigSchema).max(4).default([]),
  outbox: z.strictObject({
    maxBytes: z.int().min(1024).default(256 * 1024 * 1024),
    alertRatio: z.number().min(0.1).max(1).default(0.8),
  }).default({ maxBytes: 256 * 1024 * 1024, alertRatio: 0.8 }),
  unlockMs: z.int().min(1000).max(120_000).default(15_000),
  recording: RecordingConfigSchema.default(RecordingConfigSchema.parse({})),
  recognition: RecognitionConfigSchema.default(RecognitionConfigSchema.parse({})),
  /** Remote updates: the public keys this device trusts (pinned), and its update folder. */
  ota: z.strictObject({
    trustedKeys: z.array(z.strictObject({
      keyId: z.string().regex(/^[A-Za-z0-9_-]{8,64}$/, "must be a key id"),
      publicKey: z.string().regex(/^[A-Za-z0-9_-]{43}$/, "must be a base64url Ed25519 public key"),
    })).max(8).default([]),
    /** Default `<dataDir>/ota`, or VEND_OTA_DIR when the supervisor runs the agent. */
    dir: z.string().min(1).optional(),
  }).default({ trustedKeys: [] }),
  /**
   * Remote commands: the cloud's command keys this device pinned (provisioning writes them).
   * Commands not signed by one of them are refused, unless `allowUnsigned` (a development
   * device on an open server only).
   */
  commands: z.strictObject({
    trustedKeys: z.array(z.strictObject({
      keyId: z.string().regex(/^[A-Za-z0-9_-]{8,64}$/, "must be a key id"),
      publicKey: z.string().regex(/^[A-Za-z0-9_-]{43}$/, "must be a base64url Ed25519 public key"),
    })).max(8).default([]),
    allowUnsigned: z.boolean().default(false),
  }).default({ trustedKeys: [], allowUnsigned: false }),
  /**
   * Provisioning by claim: on first boot the device claims its identity with its batch's claim
   * credential (see provisioning.ts); its identity then sets deviceId, machineId, role, region,
   * the command keys and the credentials file. It renews its credentials `renewBeforeS` before
   * they expire.
   */
  provisioning: z.strictObject({
    batchId: token,
    serial: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{3,63}$/, "must be a serial number"),
    claimCredentialsFile: z.string().min(1),
    renewBeforeS: z.int().min(1).max(365 * 86_400).default(7 * 86_400),
  }).optional(),
  appVersion: z.string().min(1).default("0.1.0"),
  modelVersion: z.string().min(1).nullable().default(null),
}).superRefine((c, ctx) => {
  if (c.hardware === "linux" && !c.gpio) {
    ctx.addIssue({ code: "custom", path: ["gpio"], message: 'is required with hardware "linux"' });
  }
  if (c.role === "secondary" && !c.primaryDeviceId) {
    ctx.addIssue({
      code: "custom",
      path: ["primaryDeviceId"],
      message: "is required for a secondary device",
    });
  }
});

/** The agent's configuration, with defaults applied. */
export type AgentConfig = z.infer<typeof AgentConfigSchema>;

/** The configuration was refused; `problems` lists every bad field. */
export class ConfigError extends Error {
  /** One line per bad field: `field: reason`. */
  readonly problems: string[];
  /** Creates the error from its problem lines. */
  constructor(source: string, problems: string[], options?: ErrorOptions) {
    super(`Invalid agent configuration (${source}):\n  ${problems.join("\n  ")}`, options);
    this.name = "ConfigError";
    this.problems = problems;
  }
}

function path(parts: readonly PropertyKey[]): string {
  return parts.map((
    p,
    i,
  ) => (typeof p === "number" ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join("") ||
    "(root)";
}

/** Validates a configuration object (already merged with the environment). */
export function parseAgentConfig(raw: unknown, source = "config"): AgentConfig {
  const result = AgentConfigSchema.safeParse(raw);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    if (issue.code === "unrecognized_keys") {
      return `${path([...issue.path, issue.keys[0] ?? ""])}: unknown field`;
    }
    return `${path(issue.path)}: ${issue.message}`;
  });
  throw new ConfigError(source, problems, { cause: result.error });
}

/** Reads the JSON file at `file` (when given), applies the environment, and validates. */
export async function loadAgentConfig(
  file: string | undefined,
  options: { env?: Record<string, string | undefined> } = {},
): Promise<AgentConfig> {
  const env = options.env ?? Deno.env.toObject();
  let raw: Record<string, unknown> = {};
  if (file) {
    let text: string;
    try {
      text = await Deno.readTextFile(file);
    } catch (cause) {
      throw new ConfigError(file, [`cannot read the file: ${(cause as Error).message}`], { cause });
    }
    try {
      const parsed = JSON.parse(text);
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
        throw new Error("not a JSON object");
      }
      raw = parsed;
    } catch (cause) {
      throw new ConfigError(file, [`not valid JSON: ${(cause as Error).message}`], { cause });
    }
  }
  const set = (key: string, value: unknown) =>
    value !== undefined && value !== "" && (raw[key] = value);
  set("deviceId", env.VEND_DEVICE_ID);
  set("machineId", env.VEND_MACHINE_ID);
  set("role", env.VEND_ROLE);
  set("region", env.VEND_REGION);
  set("primaryDeviceId", env.VEND_PRIMARY_DEVICE_ID);
  set("dataDir", env.VEND_DATA_DIR);
  // Set by the supervisor: the version of the slot this program runs from.
  set("appVersion", env.VEND_VERSION);
  if (env.NATS_URL) {
    raw.nats = {
      ...(raw.nats as object ?? {}),
      servers: env.NATS_URL.split(",").map((s) => s.trim()),
    };
  }
  if (env.NATS_FAILOVER_URL) {
    raw.nats = {
      ...(raw.nats as object ?? {}),
      failover: env.NATS_FAILOVER_URL.split(",").map((s) => s.trim()),
    };
  }
  if (env.NATS_CA) raw.nats = { ...(raw.nats as object ?? {}), caFile: env.NATS_CA };
  // A provisioned device's identity is what the cloud issued: it wins over the file.
  if (raw.provisioning && typeof raw.dataDir === "string") {
    const identity = await readIdentity(raw.dataDir).catch((cause) => {
      throw new ConfigError(file ?? "environment", [`identity: ${(cause as Error).message}`], {
        cause,
      });
    });
    if (identity) {
      const { credentialsFile, ...fields } = identityConfig(identity, raw.dataDir);
      Object.assign(raw, fields);
      raw.nats = { ...(raw.nats as object ?? {}), credentialsFile };
    }
  }
  return parseAgentConfig(raw, file ?? "environment");
}
