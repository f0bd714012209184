/**
 * The device's commands: each group of handlers gets a narrow view of what it acts on (the door
 * and lock, the latest frames, the settings, the log ring, what diagnostics report), and
 * {@link serveCommands} answers the device's command subject through a {@link CommandProcessor}
 * (signed, journalled, a refusal audited through the outbox).
 *
 * @module
 */
import type { NatsConnection } from "@nats-io/nats-core";
import type { Frame, MetricsRegistry } from "../../pipeline/mod.ts";
import {
  type AuditEntry,
  auditEntry,
  type CommandRequest,
  deviceSubjectParts,
  filters,
  newEnvelope,
  type ShadowState,
  subjects,
  toHex,
} from "../../protocol/mod.ts";
import type { AgentConfig } from "../config/mod.ts";
import {
  CommandFailure,
  type CommandHandler,
  CommandProcessor,
  type Outbox,
} from "../delivery/mod.ts";
import type { DoorState, Hardware, SystemStatsReader } from "../hardware/mod.ts";
import { type DeviceRecording, uploadBlob } from "../recording/mod.ts";
import type { AgentLog, LogRing } from "./_log_ring.ts";
import type { SettingError } from "./_shadow_sync.ts";

/** Handlers of some of the device's commands, by command. */
export type CommandHandlers = Partial<Record<CommandRequest["command"], CommandHandler>>;

/** What the door's commands act on. */
export interface DoorCommandsView {
  /** The device's role (only a primary has the door). */
  readonly config: Pick<AgentConfig, "role">;
  /** The door sensor and the lock. */
  readonly hardware: Pick<Hardware, "door" | "lock">;
  /** Announces the session the next opening of the door starts (see the door sessions). */
  readonly expectSession: (session: { sessionId: string; region: string } | undefined) => void;
  /** The region the device reports to now. */
  readonly servingRegion: () => string;
  /** Log sink. */
  readonly log: AgentLog;
}

/** `unlock` (announcing the session the customer opens) and `lock`, on a primary. */
export function doorCommands(view: DoorCommandsView): CommandHandlers {
  const { hardware, log } = view;
  const primaryOnly = (name: string) => {
    if (view.config.role !== "primary") {
      throw new CommandFailure("invalid", `${name} is handled by the machine's primary device`);
    }
  };
  return {
    unlock: async (req, context) => {
      primaryOnly("unlock");
      if (req.command !== "unlock") throw new CommandFailure("invalid", "not an unlock");
      if (hardware.door.state === "open") {
        throw new CommandFailure("busy", "the door is open: a session is in progress");
      }
      // The session belongs to the region whose cloud unlocked the door: its events go there.
      const region = context.subject ? deviceSubjectParts(context.subject).region : undefined;
      view.expectSession(
        req.args.sessionId
          ? { sessionId: req.args.sessionId, region: region ?? view.servingRegion() }
          : undefined,
      );
      await hardware.lock.unlock(req.args.durationMs);
      log("info", "door unlocked", {
        commandId: req.id,
        issuer: req.issuer,
        sessionId: req.args.sessionId,
      });
      return {
        locked: false,
        until: Date.now() + req.args.durationMs,
        sessionId: req.args.sessionId,
      };
    },
    lock: async () => {
      primaryOnly("lock");
      await hardware.lock.lock();
      return { locked: true };
    },
  };
}

/** What `snapshot` acts on. */
export interface SnapshotCommandView {
  /** The device and its region (where the pictures are stored). */
  readonly config: Pick<AgentConfig, "deviceId" | "region">;
  /** The latest frame of a camera, if one came. */
  readonly latest: (cameraId: string) => Frame | undefined;
  /** The first connection to NATS. */
  readonly connecting: Promise<NatsConnection>;
}

/** `snapshot`: the latest frame of a camera, as JPEG in the snapshots bucket. */
export function snapshotCommand(view: SnapshotCommandView): CommandHandlers {
  const { config } = view;
  return {
    snapshot: async (req) => {
      if (req.command !== "snapshot") throw new CommandFailure("invalid", "not a snapshot");
      const frame = view.latest(req.args.cameraId);
      if (!frame) {
        throw new CommandFailure(
          "failed",
          `Cannot snapshot camera "${req.args.cameraId}": no frame from it`,
        );
      }
      const jpeg = await encodeJpeg(frame);
      const nc = await view.connecting;
      const name = `${config.deviceId}/${req.args.cameraId}/${Math.round(frame.ts)}.jpg`;
      const upload = { region: config.region, deviceId: config.deviceId };
      await uploadBlob(nc, jpeg, { ...upload, bucket: "snapshots", object: name });
      // The latest picture of each camera under a fixed name too (the dashboard shows it).
      await uploadBlob(nc, jpeg, {
        ...upload,
        bucket: "snapshots",
        object: `${config.deviceId}/${req.args.cameraId}/latest.jpg`,
      });
      const digest = new Uint8Array(
        await crypto.subtle.digest("SHA-256", jpeg as Uint8Array<ArrayBuffer>),
      );
      return {
        bucket: "snapshots",
        name,
        bytes: jpeg.length,
        sha256: toHex(digest),
        ts: frame.ts,
      };
    },
  };
}

/** What the settings' commands act on. */
export interface SettingsCommandsView {
  /** Applies settings to the configuration in force; returns the problems. */
  readonly applyConfig: (settings: NonNullable<ShadowState["config"]>) => SettingError[];
  /** Restarts the camera pipeline. */
  readonly restartPipeline: () => void;
}

/** `set_config` and `restart_pipeline`. */
export function settingsCommands(view: SettingsCommandsView): CommandHandlers {
  return {
    set_config: (req) => {
      if (req.command !== "set_config") throw new CommandFailure("invalid", "not a set_config");
      const errors = view.applyConfig(req.args.config);
      if (errors.length > 0) {
        throw new CommandFailure(
          "invalid",
          errors.map((e) => `${e.field}: ${e.reason}`).join("; "),
        );
      }
      return Promise.resolve({ applied: Object.keys(req.args.config) });
    },
    restart_pipeline: () => {
      view.restartPipeline();
      return Promise.resolve({ restarted: true });
    },
  };
}

/** `collect_logs`: the last lines of the agent's log ring. */
export function logsCommand(logs: Pick<LogRing, "tail">): CommandHandlers {
  return {
    collect_logs: (req) => {
      if (req.command !== "collect_logs") {
        throw new CommandFailure("invalid", "not a collect_logs");
      }
      return Promise.resolve({ lines: logs.tail(req.args.since, req.args.lines) });
    },
  };
}

/** What `diagnostics` reports. */
export interface DiagnosticsCommandView {
  /** The device, its role and its versions (read as they change). */
  readonly config: Pick<AgentConfig, "deviceId" | "role" | "appVersion" | "modelVersion">;
  /** The connection (whether connected, and to which server). */
  readonly connection: {
    readonly connected: boolean;
    readonly nc: Pick<NatsConnection, "getServer"> | undefined;
  };
  /** The outbox. */
  readonly outbox: Pick<Outbox, "stats">;
  /** The recording, if the device records. */
  readonly recording: () => Pick<DeviceRecording, "stats"> | undefined;
  /** The door's state now. */
  readonly door: () => DoorState | "unknown";
  /** The lock. */
  readonly lock: Pick<Hardware["lock"], "locked">;
  /** The cameras frames came from. */
  readonly cameraIds: () => string[];
  /** Metrics of the pipeline's stages. */
  readonly metrics: Pick<MetricsRegistry, "snapshot">;
  /** The device's system figures. */
  readonly stats: Pick<SystemStatsReader, "read">;
  /** When the agent started (`performance.now()`). */
  readonly started: number;
  /** When the first heartbeat went (ms after the start), if one did. */
  readonly firstHeartbeatAt: () => number | undefined;
  /** When the first frame came (ms after the start), if one did. */
  readonly firstFrameAt: () => number | undefined;
}

/** `diagnostics`: the device's state, in one reply. */
export function diagnosticsCommand(view: DiagnosticsCommandView): CommandHandlers {
  return {
    diagnostics: () => {
      const { config, connection } = view;
      const s = view.stats.read();
      const recording = view.recording();
      const firstHeartbeatAt = view.firstHeartbeatAt();
      const firstFrameAt = view.firstFrameAt();
      return Promise.resolve({
        deviceId: config.deviceId,
        role: config.role,
        connected: connection.connected,
        server: connection.nc?.getServer() ?? null,
        outbox: { ...view.outbox.stats() },
        recording: recording ? { ...recording.stats() } : null,
        door: view.door(),
        locked: view.lock.locked,
        cameras: view.cameraIds(),
        stages: view.metrics.snapshot().map((m) => ({ ...m })),
        system: { ...s },
        appVersion: config.appVersion,
        modelVersion: config.modelVersion,
        startup: {
          processStart: performance.timeOrigin,
          firstHeartbeatAt: firstHeartbeatAt === undefined
            ? null
            : performance.timeOrigin + view.started + firstHeartbeatAt,
          firstFrameAt: firstFrameAt === undefined
            ? null
            : performance.timeOrigin + view.started + firstFrameAt,
        },
      });
    },
  };
}

/** Options of {@link serveCommands}. */
export interface ServeCommandsOptions {
  /** The device, and which commands it trusts. */
  readonly config: Pick<AgentConfig, "deviceId" | "commands">;
  /** The handlers, by command. */
  readonly handlers: CommandHandlers;
  /** Where refusals are stored for the cloud's audit; its database journals the commands. */
  readonly outbox: Pick<Outbox, "append" | "database">;
  /** The address refusals are reported to now. */
  readonly reportAddress: () => { region: string; deviceId: string };
  /** Log sink. */
  readonly log: AgentLog;
}

/** Answers the device's commands on `nc` until `signal` aborts. */
export async function serveCommands(
  nc: NatsConnection,
  signal: AbortSignal,
  options: ServeCommandsOptions,
): Promise<void> {
  const { config, outbox, log } = options;
  const { trustedKeys, allowUnsigned } = config.commands;
  const processor = new CommandProcessor(
    outbox.database,
    config.deviceId,
    options.handlers,
    {
      // No pinned key and unsigned commands not allowed: every command is refused.
      ...(allowUnsigned && trustedKeys.length === 0 ? {} : { trustedKeys }),
      onRefused: (r) => {
        log(r.code === "replayed" ? "info" : "warn", "command refused", { ...r });
        // Audited in the cloud (through the outbox: a refusal while offline is not lost).
        const entry: AuditEntry = {
          ...newEnvelope(),
          actor: { subject: `device:${config.deviceId}`, role: "device" },
          action: r.code === "replayed" ? "command.replayed" : "command.refused",
          target: `device/${config.deviceId}`,
          outcome: "refused",
          requestId: r.commandId,
          before: null,
          after: null,
          reason: `${r.command || "command"} ${r.commandId}: ${r.message}`.slice(0, 500),
        };
        outbox.append({
          id: entry.id,
          subject: subjects.deviceAudit(options.reportAddress()),
          data: auditEntry.encode(entry),
        });
      },
    },
  );
  const sub = nc.subscribe(filters.commands({ deviceId: config.deviceId }), {
    callback: (err, msg) => {
      if (err) {
        // The server refused the subscription (credentials without this device's commands).
        log("error", "command subscription refused", { error: err.message });
        return;
      }
      processor.handle(msg.data, { subject: msg.subject }).then((reply) => msg.respond(reply))
        .catch((e) => log("error", "command reply failed", { error: String(e) }));
    },
  });
  signal.addEventListener("abort", () => sub.unsubscribe(), { once: true });
  await sub.closed;
}

/** Encodes one frame as JPEG with the system ffmpeg. */
async function encodeJpeg(frame: Frame): Promise<Uint8Array> {
  const child = new Deno.Command("ffmpeg", {
    args: [
      "-hide_banner",
      "-loglevel",
      "error",
      "-f",
      "rawvideo",
      "-pix_fmt",
      frame.format === "rgba" ? "rgba" : "yuv420p",
      "-s",
      `${frame.width}x${frame.height}`,
      "-i",
      "pipe:0",
      "-frames:v",
      "1",
      "-f",
      "mjpeg",
      "pipe:1",
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(frame.data);
  await w.close();
  const out = await child.output();
  if (!out.success) {
    throw new CommandFailure(
      "failed",
      `Cannot encode snapshot: ${new TextDecoder().decode(out.stderr).trim()}`,
    );
  }
  return out.stdout;
}
