/**
 * The device agent: runs unattended on each device of a vending machine. It keeps a NATS
 * connection that reconnects forever (jittered backoff, failover across servers), heartbeats
 * and reports telemetry, keeps its shadow (reported state; applies desired state), obeys remote
 * commands, runs the camera pipeline, turns door sessions into events, and delivers every event
 * that must not be lost through its durable outbox.
 *
 * @example
 * ```ts
 * import { Agent, loadAgentConfig } from "../mod.ts";
 *
 * const config = await loadAgentConfig("agent.json");
 * await using agent = await Agent.start(config);
 * ```
 *
 * @module
 */
import { jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { credsAuthenticator, type NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import {
  type Frame,
  type FrameSet,
  FrameSync,
  type ItemEvent,
  liveQueue,
  mergeStreams,
  MetricsRegistry,
  type Planogram,
  remoteFrameSink,
  remoteSource,
  runClockSync,
  simulatedPlanogram,
  validateFrames,
} from "../../pipeline/mod.ts";
import {
  type AuditEntry,
  auditEntry,
  bucketIn,
  buckets,
  type CommandRequest,
  deploymentEvent,
  type DeviceAddress,
  deviceInboxPrefix,
  filters,
  heartbeat,
  newEnvelope,
  newMessageId,
  parsePipelineEvent,
  parseShadow,
  type PipelineEvent,
  pipelineEvent,
  shadow,
  shadowKey,
  type ShadowState,
  subjects,
  telemetry,
} from "../../protocol/mod.ts";
import { loadWasmKernels } from "../../wasm/mod.ts";
import { type AgentConfig, ConfigError, PlanogramSchema } from "../config/mod.ts";
import type { AgentHooks } from "./agent_hooks.ts";
import { DeviceRecognition } from "./device_recognition.ts";
import {
  CommandFailure,
  type CommandHandler,
  CommandProcessor,
  DEVICE_RECONNECT,
  forceReconnect,
  type HomeFirst,
  homeFirst,
  natsClockProbe,
  natsMessages,
  natsPublisher,
  Outbox,
  returnHome,
  serveClock,
} from "../delivery/mod.ts";
import { DeviceRecording, uploadBlob } from "../recording/mod.ts";
import { readIdentity, renewCredentials } from "../provisioning/mod.ts";
import {
  type DoorState,
  ffmpegCamera,
  type Hardware,
  type LedColor,
  LinuxHardware,
  SystemStatsReader,
  v4l2Input,
} from "../hardware/mod.ts";
import { type DeploymentOrder, OtaSlots, Updater } from "../updates/mod.ts";
import { type CartDecider, SimulatedHardware, SimulatedScene } from "../sim/mod.ts";
import { drainWithin, sleep } from "../../runtime/mod.ts";

/** A camera of another device of the machine that this (primary) device receives over NATS. */
export interface RemoteCamera {
  /** Device that has the camera. */
  readonly deviceId: string;
  /** Camera id. */
  readonly cameraId: string;
  /** Frames per second. */
  readonly fps: number;
}

/** What {@link Agent.start} takes besides the configuration. */
export interface AgentOptions {
  /** Hardware. Default: simulated or Linux GPIO, per the configuration. */
  readonly hardware?: Hardware;
  /** The scene synthetic cameras film. Default: a new simulated scene. */
  readonly scene?: SimulatedScene;
  /** Decides each door session's cart. Required on a primary that has door sessions. */
  readonly cartDecider?: CartDecider;
  /** Cameras of the secondary device this primary receives. */
  readonly remoteCameras?: readonly RemoteCamera[];
  /** Hooks at points of the agent's work (fault tests). Default: none. */
  readonly hooks?: AgentHooks;
  /** Log sink. Default: JSON lines on stderr. */
  readonly log?: (line: Record<string, unknown>) => void;
  /**
   * Called when an update switched slots and the agent must be started again from the new one
   * (the program exits with the supervisor's switch code). Default: only logged.
   */
  readonly onRestartRequested?: () => void;
  /** Arguments the program was started with (a new slot is started with the same). */
  readonly args?: readonly string[];
  /** Whether a supervisor runs this agent. Default: when VEND_OTA_DIR is set. */
  readonly supervised?: boolean;
}

/** Log lines kept for the `collect_logs` command. */
const LOG_RING = 2000;

/** A running device agent. */
export class Agent implements AsyncDisposable {
  /** The configuration in force (shadow changes update it). */
  readonly config: AgentConfig;
  /** The durable outbox. */
  readonly outbox: Outbox;
  /** Metrics of the pipeline's stages. */
  readonly metrics: MetricsRegistry = new MetricsRegistry();
  /** The hardware. */
  readonly hardware: Hardware;
  readonly #options: AgentOptions;
  readonly #stop = new AbortController();
  readonly #stats: SystemStatsReader;
  readonly #logs: string[] = [];
  readonly #started = performance.now();
  readonly #address: DeviceAddress;
  readonly #scene: SimulatedScene;
  #nc: NatsConnection | undefined;
  #connected = false;
  #connecting: Promise<NatsConnection>;
  #seq = 0;
  #timers: Array<ReturnType<typeof setInterval>> = [];
  #pipeline: AbortController | undefined;
  #latest = new Map<string, Frame>();
  #lastSet: FrameSet | undefined;
  #door: DoorState | "unknown" = "unknown";
  #pendingSession: { sessionId: string; region: string } | undefined;
  /** The dialing policy when the device has failover servers in other regions. */
  #homeFirst: HomeFirst | undefined;
  /** The region each unfinished door session belongs to (its events go there). */
  readonly #sessionRegions = new Map<string, string>();
  #recording: DeviceRecording | undefined;
  #recognition: DeviceRecognition | undefined;
  #updater: Updater | undefined;
  #deployment: DeploymentOrder | undefined;
  #desiredVersion = 0;
  #applied: {
    desiredVersion: number;
    ok: boolean;
    errors: Array<{ field: string; reason: string }>;
  } = {
    desiredVersion: 0,
    ok: true,
    errors: [],
  };
  #tasks: Promise<unknown>[] = [];
  #firstHeartbeatAt: number | undefined;
  #firstFrameAt: number | undefined;

  private constructor(config: AgentConfig, options: AgentOptions, hardware: Hardware) {
    this.config = structuredClone(config);
    this.#options = options;
    this.hardware = hardware;
    this.#address = { region: config.region, deviceId: config.deviceId };
    this.#stats = new SystemStatsReader(config.dataDir, {
      log: (level, msg, fields) => this.log(level, msg, fields),
    });
    this.#scene = options.scene ?? new SimulatedScene({ machineId: config.machineId });
    const hooks = options.hooks ?? {};
    this.outbox = new Outbox(`${config.dataDir}/outbox.db`, {
      maxBytes: config.outbox.maxBytes,
      alertRatio: config.outbox.alertRatio,
      onAlert: (s) => this.log("warn", "outbox filling", { ...s }),
      hooks: {
        ...(hooks.afterOutboxAppend ? { afterAppend: hooks.afterOutboxAppend } : {}),
        ...(hooks.afterOutboxPublish ? { afterPublish: hooks.afterOutboxPublish } : {}),
      },
    });
    this.#connecting = this.#connect();
  }

  /** Starts an agent: outbox and hardware first (it works offline), then NATS in the background. */
  static async start(config: AgentConfig, options: AgentOptions = {}): Promise<Agent> {
    await Deno.mkdir(config.dataDir, { recursive: true });
    let hardware = options.hardware;
    // The hardware comes before the agent: its log goes to the agent's once there is one.
    const late: { agent?: Agent } = {};
    if (!hardware) {
      if (config.hardware === "linux") {
        const linux = new LinuxHardware(config.gpio!, undefined, {
          log: (level, msg, fields) => late.agent?.log(level, msg, fields),
        });
        await linux.open();
        hardware = linux;
      } else {
        hardware = new SimulatedHardware();
      }
    }
    const agent = new Agent(config, options, hardware);
    late.agent = agent;
    if (config.recording.enabled && config.cameras.length > 0) {
      try {
        agent.#recording = await DeviceRecording.start(config, {
          outbox: agent.outbox,
          log: (level, msg, fields) => agent.log(level, msg, fields),
          metrics: agent.metrics.stage("recorder"),
        });
      } catch (e) {
        // Selling goes on without recording; the error says why.
        agent.log("error", "recording cannot start", { error: String(e) });
      }
    }
    if (config.role === "primary" && config.recognition.model) {
      await agent.#startRecognition(config.recognition.model).catch((e) =>
        // Selling goes on: sessions go to review until a model loads (an update can bring one).
        agent.log("error", "recognition cannot start", { error: String(e) })
      );
    }
    await agent.#setupUpdater();
    agent.#run();
    return agent;
  }

  /** Loads the model in `dir`, or (running) swaps to it; a refused model leaves the old one. */
  async #startRecognition(dir: string): Promise<void> {
    if (this.#recognition) {
      await this.#recognition.useModelDir(dir);
    } else {
      const c = this.config.recognition;
      this.#recognition = await DeviceRecognition.start(dir, {
        planogram: await this.#planogram(),
        backend: c.backend,
        threads: c.threads,
        threshold: c.threshold,
        log: (level, msg, fields) => this.log(level, msg, fields),
      });
    }
    this.config.modelVersion = this.#recognition.modelVersion.split(" ")[1] ?? null;
    this.log("info", "recognition model serving", { model: this.#recognition.modelVersion });
  }

  async #planogram(): Promise<Planogram | (() => Planogram)> {
    const file = this.config.recognition.planogram;
    if (!file) {
      // A simulated cabinet: its scene's shelves, as an installer would calibrate them.
      return () => simulatedPlanogram(this.#scene.current.scenario);
    }
    const parsed = PlanogramSchema.safeParse(JSON.parse(await Deno.readTextFile(file)));
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new ConfigError(file, [`${file}: ${issue.path.join(".")}: ${issue.message}`]);
    }
    return parsed.data;
  }

  async #setupUpdater(): Promise<void> {
    const supervisorDir = Deno.env.get("VEND_OTA_DIR");
    const dir = this.config.ota.dir ?? supervisorDir ?? `${this.config.dataDir}/ota`;
    const slots = await OtaSlots.open(dir);
    const beforePhase = this.#options.hooks?.beforeUpdatePhase;
    this.#updater = new Updater({
      slots,
      deviceId: this.config.deviceId,
      agentVersion: this.config.appVersion,
      agentArgs: this.#options.args ?? [],
      trustedKeys: this.config.ota.trustedKeys,
      supervised: this.#options.supervised ?? supervisorDir !== undefined,
      progress: (step) => {
        const env = newEnvelope();
        this.outbox.append({
          id: env.id,
          subject: subjects.updateProgress(this.#reportAddress()),
          data: deploymentEvent.encode({
            ...env,
            deviceId: this.config.deviceId,
            type: "update_progress",
            ...step,
          }),
        });
      },
      applyHot: async (recipe, files) => {
        if (recipe.kind !== "model") return;
        const manifest = files["model.json"];
        if (manifest && this.config.role === "primary") {
          // Loaded and checked before it serves; a refused model fails the update, the old
          // one keeps serving.
          await this.#startRecognition(manifest.slice(0, manifest.lastIndexOf("/")));
        }
        this.config.modelVersion = recipe.version;
      },
      restart: () => {
        if (this.#options.onRestartRequested) this.#options.onRestartRequested();
        else this.log("warn", "an update needs a restart, and nothing restarts this agent");
      },
      ...(beforePhase ? { beforePhase: (phase: string) => beforePhase(phase, dir) } : {}),
      log: (level, msg, fields) => this.log(level, msg, fields),
    });
  }

  /** The version the supervisor waits for is healthy: NATS connected and the pipeline running. */
  async #reportHealthy(signal: AbortSignal): Promise<void> {
    const dir = Deno.env.get("VEND_OTA_DIR");
    if (!dir) return;
    while (!signal.aborted) {
      const pipeline = this.config.cameras.length === 0 || this.#firstFrameAt !== undefined;
      if (this.#connected && pipeline && this.#firstHeartbeatAt !== undefined) {
        const beforeHealthy = this.#options.hooks?.beforeTrialHealthy;
        if (beforeHealthy && (await this.#onTrial(dir))) await beforeHealthy(dir);
        const tmp = `${dir}/healthy.json.tmp`;
        await Deno.writeTextFile(
          tmp,
          JSON.stringify({ version: this.config.appVersion, pid: Deno.pid, at: Date.now() }),
        );
        await Deno.rename(tmp, `${dir}/healthy.json`);
        await this.#updater!.settleTrial(signal);
        return;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async #onTrial(dir: string): Promise<boolean> {
    const state = await (await OtaSlots.open(dir)).read();
    return state.trial !== null;
  }

  /** Writes a structured log line (kept for `collect_logs`). */
  log(
    level: "debug" | "info" | "warn" | "error",
    msg: string,
    fields: Record<string, unknown> = {},
  ): void {
    const line = {
      ts: new Date().toISOString(),
      level,
      device: this.config.deviceId,
      msg,
      ...fields,
    };
    const text = JSON.stringify(line);
    this.#logs.push(text);
    if (this.#logs.length > LOG_RING) this.#logs.shift();
    if (this.#options.log) this.#options.log(line);
    else console.error(text);
  }

  /**
   * Runs a background loop; when it fails (an outage, a full outbox) the error is logged and the
   * loop starts again after a pause, until the agent stops. Nothing rejects unhandled.
   */
  #task(name: string, run: () => Promise<unknown>, options: { retry?: boolean } = {}): void {
    const signal = this.#stop.signal;
    this.#tasks.push((async () => {
      for (let pause = 500; !signal.aborted; pause = Math.min(pause * 2, 10_000)) {
        try {
          await run();
          return;
        } catch (e) {
          if (signal.aborted) return;
          this.log("error", `${name} failed`, { error: String(e) });
          if (options.retry === false) return;
          await new Promise((r) => setTimeout(r, pause));
        }
      }
    })());
  }

  /**
   * A failure that must not stop the agent (background work whose error would otherwise
   * vanish): logged with the error, and counted in the errors of metrics stage `stage`, which
   * telemetry carries.
   */
  #failed(
    stage: string,
    msg: string,
    error: unknown,
    fields: Record<string, unknown> = {},
    level: "warn" | "error" = "error",
  ): void {
    this.metrics.stage(stage).recordError();
    this.log(level, msg, { ...fields, error: String(error) });
  }

  /** Shows a colour on the status LED; a LED that fails is logged, never stops the agent. */
  #led(color: LedColor): void {
    this.hardware.led.set(color).catch((e) =>
      this.#failed("agent", "status LED failed", e, { color }, "warn")
    );
  }

  /** Resolves once recording can start a clip at once (its encoders have started). */
  recordingReady(): Promise<void> {
    return this.#recording?.ready ?? Promise.resolve();
  }

  /** True while connected to NATS. */
  get connected(): boolean {
    return this.#connected;
  }

  async #connect(): Promise<NatsConnection> {
    const credsFile = this.config.nats.credentialsFile;
    // Read at every (re)connect: rotated credentials take effect on the next connection.
    const creds = credsFile ? () => Deno.readFileSync(credsFile) : undefined;
    // Home first (in random order, to spread the region's devices), then the other regions'.
    const home = [...this.config.nats.servers].sort(() => Math.random() - 0.5);
    const failover = this.config.nats.failover ?? [];
    this.#homeFirst = failover.length ? homeFirst(home) : undefined;
    const nc = await connect({
      servers: [...home, ...failover],
      ...DEVICE_RECONNECT,
      ...(this.#homeFirst
        ? { noRandomize: true, reconnectToServer: this.#homeFirst.choose }
        : { timeout: 20_000 }),
      name: this.config.deviceId,
      waitOnFirstConnect: true,
      // Replies and deliveries come to the device's own inboxes (its credentials allow no other).
      inboxPrefix: deviceInboxPrefix(this.config.deviceId),
      ...(creds ? { authenticator: credsAuthenticator(creds) } : {}),
      ...(this.config.nats.caFile ? { tls: { caFile: this.config.nats.caFile } } : {}),
    });
    this.#nc = nc;
    this.#connected = true;
    this.log("info", "connected to NATS", { server: nc.getServer() });
    (async () => {
      for await (const s of nc.status()) {
        if (s.type === "disconnect") {
          this.#connected = false;
          this.log("warn", "NATS connection lost");
        } else if (s.type === "reconnect") {
          this.#connected = true;
          this.log("info", "NATS connection back", { server: nc.getServer() });
        }
      }
    })().catch((e) => this.#failed("agent", "NATS status watch failed", e));
    return nc;
  }

  #run(): void {
    const signal = this.#stop.signal;
    this.#led("amber");
    this.#restartPipeline();
    if (this.config.role === "primary") {
      this.#task("door sessions", () => this.#doorSessions(signal));
    }
    this.#tasks.push(
      (async () => {
        const nc = await Promise.race([
          this.#connecting,
          new Promise<never>((_, reject) =>
            signal.addEventListener("abort", () => reject(signal.reason))
          ),
        ]);
        this.#led("green");
        const js = jetstream(nc, { checkAPI: false });
        this.#tasks.push(this.outbox.deliver({
          publish: async (subject, data, id) => {
            await js.publish(subject, data, { msgID: id, timeout: 5000 });
          },
        }, {
          signal,
          // One lane per region (`vs.<region>.`): a region that is down holds up only its own.
          laneOf: (subject) => subject.split(".", 2).join(".") + ".",
        }));
        const policy = this.#homeFirst;
        if (policy) {
          this.#task("return home", () =>
            returnHome(nc, policy, {
              signal,
              onReturn: () => this.log("info", "going back to the home region's servers"),
            }));
        }
        this.#task("commands", () => this.#commands(nc, signal));
        if (this.config.provisioning) {
          this.#task("credentials", () => this.#keepCredentials(nc, signal));
        }
        this.#task("shadow", () => this.#shadow(nc, signal));
        const recording = this.#recording;
        if (recording) this.#task("clip upload", () => recording.run(nc, signal));
        this.#task("report update outcome", () => this.#updater!.reportOutcome(), { retry: false });
        this.#task("health", () => this.#reportHealthy(signal), { retry: false });
        if (this.config.role === "primary") {
          await serveClock(nc, this.#address, { signal });
        } else {
          this.#task("follow primary", () => this.#followPrimary(nc, signal));
        }
        this.#heartbeat();
        this.#telemetry();
        this.#resetTimers();
      })().catch((e) => {
        if (!signal.aborted) this.log("error", "agent start failed", { error: String(e) });
      }),
    );
  }

  /**
   * The region whose servers the device is connected to: where its heartbeats, telemetry and
   * new sessions go. Its home region, unless it has failover servers and is on another region's
   * (a supercluster's clusters are named after their regions).
   */
  #servingRegion(): string {
    const cluster = this.#nc?.info?.cluster;
    if (
      !this.config.nats.failover?.length || !cluster || !/^[a-z0-9][a-z0-9-]{0,30}$/.test(cluster)
    ) {
      return this.config.region;
    }
    return cluster;
  }

  /** This device's address in the region it reports to now. */
  #reportAddress(): { region: string; deviceId: string } {
    return { region: this.#servingRegion(), deviceId: this.config.deviceId };
  }

  #resetTimers(): void {
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [
      setInterval(() => this.#heartbeat(), this.config.heartbeatIntervalMs),
      setInterval(() => this.#telemetry(), this.config.telemetryIntervalMs),
    ];
  }

  #heartbeat(): void {
    const nc = this.#nc;
    if (!nc || !this.#connected) return; // stale beats are worthless: none are queued offline
    nc.publish(
      subjects.heartbeat(this.#reportAddress()),
      heartbeat.encode({
        ...newEnvelope(),
        deviceId: this.config.deviceId,
        machineId: this.config.machineId,
        role: this.config.role,
        seq: this.#seq++,
        uptimeMs: Math.round(performance.now() - this.#started),
        status:
          this.outbox.stats().bytes >= this.config.outbox.maxBytes * this.config.outbox.alertRatio
            ? "degraded"
            : "ok",
        door: this.#door,
        appVersion: this.config.appVersion,
        modelVersion: this.config.modelVersion,
      }),
    );
    this.#firstHeartbeatAt ??= performance.now() - this.#started;
  }

  #telemetry(): void {
    const nc = this.#nc;
    if (!nc || !this.#connected) return;
    const s = this.#stats.read();
    const stages = this.metrics.snapshot();
    const cameras = [
      ...new Set([...this.#latest.keys(), ...this.config.cameras.map((c) => c.cameraId)]),
    ].sort();
    nc.publish(
      subjects.telemetry(this.#reportAddress()),
      telemetry.encode({
        ...newEnvelope(),
        deviceId: this.config.deviceId,
        cpu: { usage: s.cpuUsage, load1: s.load1 },
        memory: { rssBytes: s.rssBytes, usedBytes: s.memUsedBytes, totalBytes: s.memTotalBytes },
        disk: { usedBytes: s.diskUsedBytes, totalBytes: s.diskTotalBytes },
        temperatureC: s.temperatureC,
        door: this.#door,
        cameras: cameras.slice(0, 8).map((cameraId) => {
          const m = stages.find((x) => x.name === `camera_${cameraId}`);
          return { cameraId, fps: m?.fps ?? 0, drops: m?.drops ?? 0, errors: m?.errors ?? 0 };
        }),
        stages: stages.slice(0, 32).map((m) => ({
          name: m.name.slice(0, 32),
          fps: m.fps,
          p50Ms: m.p50Ms,
          p99Ms: m.p99Ms,
          queueDepth: m.queueDepth,
          drops: m.drops,
        })),
        outbox: {
          depth: this.outbox.stats().depth,
          bytes: this.outbox.stats().bytes,
          capacityBytes: this.outbox.stats().capacityBytes,
        },
        ...(this.#recording ? { clips: this.#recording.stats() } : {}),
        appVersion: this.config.appVersion,
        modelVersion: this.config.modelVersion,
      }),
    );
  }

  /**
   * Stores an event in the outbox (durably) for delivery: to the region its session belongs to
   * (it waits there while that region is down: the session is settled where it started, once).
   */
  #emit(event: PipelineEvent): void {
    const session = "sessionId" in event ? event.sessionId : undefined;
    const region = (session && this.#sessionRegions.get(session)) ?? this.#servingRegion();
    this.outbox.append({
      id: event.id,
      subject: subjects.pipelineEvent({ region, deviceId: this.config.deviceId }, event.type),
      data: pipelineEvent.encode(event),
    });
  }

  /**
   * Sessions interrupted by a crash or power loss: finish them, never lose a sale. A session
   * whose door is still open stays open (returned) and ends when the door closes. Every
   * session event has an id derived from the session, so an event written again after a crash
   * is stored and delivered once (the outbox and the stream both drop a repeated id).
   */
  #recoverSessions(): { sessionId: string; openedAt: number } | undefined {
    const db = this.outbox.database;
    db.exec(`CREATE TABLE IF NOT EXISTS door_sessions (
      id TEXT PRIMARY KEY, opened_at INTEGER NOT NULL, closed_at INTEGER, completed INTEGER NOT NULL DEFAULT 0)`);
    const columns = db.prepare("PRAGMA table_info(door_sessions)").all() as Array<{ name: string }>;
    if (!columns.some((c) => c.name === "region")) {
      db.exec("ALTER TABLE door_sessions ADD COLUMN region TEXT"); // outboxes from before regions
    }
    const unfinished = db.prepare(
      "SELECT id, opened_at, closed_at, region FROM door_sessions WHERE completed = 0 ORDER BY opened_at",
    ).all() as Array<
      { id: string; opened_at: number; closed_at: number | null; region: string | null }
    >;
    for (const row of unfinished) if (row.region) this.#sessionRegions.set(row.id, row.region);
    let stillOpen: { sessionId: string; openedAt: number } | undefined;
    for (const [i, row] of unfinished.entries()) {
      // Re-emitting door_opened is harmless (same id); it covers a crash right after the row was written.
      this.#emitSession("door_opened", row.id, row.opened_at);
      const last = i === unfinished.length - 1;
      if (row.closed_at === null && last && this.hardware.door.state === "open") {
        stillOpen = { sessionId: row.id, openedAt: row.opened_at };
        this.log("warn", "resumed a door session interrupted by a restart", { sessionId: row.id });
        continue;
      }
      const closedAt = row.closed_at ?? Date.now();
      db.prepare("UPDATE door_sessions SET closed_at = ? WHERE id = ?").run(closedAt, row.id);
      this.#emitSession("door_closed", row.id, closedAt, {
        openMs: Math.max(0, closedAt - row.opened_at),
      });
      this.#complete({ sessionId: row.id, openedAt: row.opened_at, closedAt }, {
        cart: [],
        confidence: 0,
        reviewReasons: ["the agent restarted during this session: decide the cart from the clips"],
        modelVersion: this.config.modelVersion ?? "none",
      });
      this.log("warn", "recovered an interrupted door session", { sessionId: row.id });
    }
    return stillOpen;
  }

  /** The message id of a session's event: derived, so that a repeat is dropped. */
  #eventId(sessionId: string, step: "open" | "shut" | "done" | `e${number}`): string {
    return `${sessionId.slice(0, 58)}-${step}`;
  }

  #emitSession(
    type: "door_opened" | "door_closed",
    sessionId: string,
    at: number,
    extra: { openMs?: number } = {},
  ): void {
    const base = {
      ...newEnvelope(at),
      deviceId: this.config.deviceId,
      machineId: this.config.machineId,
      sessionId,
    };
    if (type === "door_opened") this.#emit({ ...base, id: this.#eventId(sessionId, "open"), type });
    else {this.#emit({
        ...base,
        id: this.#eventId(sessionId, "shut"),
        type,
        openMs: extra.openMs ?? 0,
      });}
  }

  #complete(
    session: { sessionId: string; openedAt: number; closedAt: number },
    decision: {
      cart: Array<{ sku: string; qty: number }>;
      confidence: number;
      reviewReasons: string[];
      modelVersion: string;
      events?: readonly ItemEvent[];
      lineConfidence?: Readonly<Record<string, number>>;
    },
  ): void {
    // One threshold for every cart decider: the recognizer applies it too (the configured one).
    const threshold = this.config.recognition.threshold;
    const reasons = decision.confidence < threshold && decision.reviewReasons.length === 0
      ? [`confidence ${decision.confidence.toFixed(2)} below ${threshold.toFixed(2)}`]
      : decision.reviewReasons;
    // What the hand did while the door was open, before the session's outcome (at most 99).
    for (const [i, e] of (decision.events ?? []).slice(0, 99).entries()) {
      this.#emit({
        ...newEnvelope(e.at),
        id: this.#eventId(session.sessionId, `e${i}`),
        deviceId: this.config.deviceId,
        machineId: this.config.machineId,
        type: e.kind === "take" ? "item_taken" : "item_returned",
        sessionId: session.sessionId,
        sku: e.sku,
        cameraId: e.cameraId,
        confidence: Math.min(1, Math.max(0, e.confidence)),
        at: e.at,
      });
    }
    this.#emit({
      ...newEnvelope(),
      id: this.#eventId(session.sessionId, "done"),
      deviceId: this.config.deviceId,
      machineId: this.config.machineId,
      type: "session_completed",
      sessionId: session.sessionId,
      openedAt: session.openedAt,
      closedAt: session.closedAt,
      cart: decision.cart,
      confidence: decision.confidence,
      ...(decision.lineConfidence && decision.cart.length
        ? { lineConfidence: { ...decision.lineConfidence } }
        : {}),
      review: { required: reasons.length > 0, reasons },
      modelVersion: decision.modelVersion,
    });
    this.outbox.database.prepare("UPDATE door_sessions SET completed = 1 WHERE id = ?").run(
      session.sessionId,
    );
    this.#sessionRegions.delete(session.sessionId);
  }

  /**
   * Renews the device's credentials `renewBeforeS` before they expire, then moves the
   * connection to them (a reconnect) once no door session is in progress: a customer's session
   * is never cut by a rotation.
   */
  async #keepCredentials(nc: NatsConnection, signal: AbortSignal): Promise<void> {
    const { renewBeforeS } = this.config.provisioning!;
    while (!signal.aborted) {
      const identity = await readIdentity(this.config.dataDir);
      if (!identity) return;
      const dueAt = (identity.expiresAt - renewBeforeS) * 1000;
      if (Date.now() < dueAt) {
        await sleep(Math.max(0, Math.min(dueAt - Date.now(), 60_000)), { signal });
        continue;
      }
      const renewed = await renewCredentials(nc, this.config.dataDir);
      this.log("info", "credentials renewed", { expiresAt: renewed.expiresAt });
      while (this.#door === "open" && !signal.aborted) await sleep(250, { signal });
      if (signal.aborted) return;
      await forceReconnect(nc);
      this.log("info", "reconnected with the renewed credentials");
    }
  }

  async #doorSessions(signal: AbortSignal): Promise<void> {
    let open = this.#recoverSessions();
    this.#door = this.hardware.door.state;
    const db = this.outbox.database;
    for await (const state of this.hardware.door.changes(signal)) {
      this.#door = state;
      const now = Date.now();
      if (state === "open" && !open) {
        const pending = this.#pendingSession;
        open = { sessionId: pending?.sessionId ?? newMessageId(now), openedAt: now };
        this.#pendingSession = undefined;
        const region = pending?.region ?? this.#servingRegion();
        this.#sessionRegions.set(open.sessionId, region);
        db.prepare(
          "INSERT OR IGNORE INTO door_sessions (id, opened_at, region) VALUES (?, ?, ?)",
        ).run(open.sessionId, now, region);
        this.#emitSession("door_opened", open.sessionId, now);
        this.#recording?.doorOpened(open.sessionId, now);
        (this.#options.cartDecider ?? this.#recognition)?.open?.(open);
      } else if (state === "closed" && open) {
        const session = { ...open, closedAt: now };
        this.#recording?.doorClosed(session.sessionId, now);
        open = undefined;
        // The event first: a crash after it is repaired by recovery (same id), never lost.
        this.#emitSession("door_closed", session.sessionId, now, {
          openMs: now - session.openedAt,
        });
        db.prepare("UPDATE door_sessions SET closed_at = ? WHERE id = ?").run(
          now,
          session.sessionId,
        );
        const decider = this.#options.cartDecider ?? this.#recognition;
        let decision;
        try {
          decision = decider ? await decider.decide(session) : undefined;
        } catch (e) {
          this.log("error", "cart decision failed", {
            sessionId: session.sessionId,
            error: String(e),
          });
        }
        const fallback = (why: string) => ({
          cart: [],
          confidence: 0,
          reviewReasons: [why],
          modelVersion: this.config.modelVersion ?? "none",
        });
        try {
          this.#complete(
            session,
            decision ??
              fallback(
                decider
                  ? "the cart decision failed on the device"
                  : "no cart decider on this device",
              ),
          );
        } catch (e) {
          // A decision that is not a valid event (a bug) still completes the session, for review.
          this.log("error", "cart decision not recordable", {
            sessionId: session.sessionId,
            error: String(e),
          });
          this.#complete(
            session,
            fallback(`the cart decision could not be recorded: ${e}`.slice(0, 200)),
          );
        }
        this.log("info", "door session completed", {
          sessionId: session.sessionId,
          items: decision?.cart.length ?? 0,
        });
      }
    }
  }

  /** The secondary follows the primary's door sessions (its door state mirrors the primary's). */
  async #followPrimary(nc: NatsConnection, signal: AbortSignal): Promise<void> {
    // Any region: the primary's sessions may belong to another region while its own is down.
    const primary = { deviceId: this.config.primaryDeviceId! };
    const events = natsMessages(nc, filters.pipelineEvents(primary), { signal, capacity: 64 });
    for await (const data of events) {
      const e = parsePipelineEvent(data);
      if (!e.ok) continue;
      if (e.value.type === "door_opened") {
        this.#door = "open";
        this.#recording?.doorOpened(e.value.sessionId, e.value.ts);
        // A simulated secondary films the same shopping session as its primary.
        if (this.#options.scene) this.#scene.startSession(0);
      }
      if (e.value.type === "door_closed") {
        this.#door = "closed";
        this.#recording?.doorClosed(e.value.sessionId, e.value.ts);
      }
    }
  }

  #restartPipeline(): void {
    this.#pipeline?.abort();
    const controller = new AbortController();
    this.#pipeline = controller;
    const signal = AbortSignal.any([controller.signal, this.#stop.signal]);
    const cams = this.config.cameras.map((c) => {
      const metrics = this.metrics.stage(`camera_${c.cameraId}`);
      const source = c.source.kind === "synthetic"
        ? this.#scene.camera(c.cameraId, {
          deviceId: this.config.deviceId,
          width: c.width,
          height: c.height,
          fps: c.fps,
          signal,
        })
        : ffmpegCamera({
          cameraId: c.cameraId,
          deviceId: this.config.deviceId,
          width: c.width,
          height: c.height,
          fps: c.fps,
          input: v4l2Input(c.source.device, {
            width: c.width,
            height: c.height,
            fps: c.fps,
            ...(c.source.inputFormat ? { inputFormat: c.source.inputFormat } : {}),
          }),
          metrics,
          signal,
        });
      const q = liveQueue<Frame>(4, { metrics });
      const recording = this.#recording;
      const tapped = recording
        ? source.pipeThrough(
          new TransformStream<Frame, Frame>({
            transform(f, c) {
              recording.offer(f);
              c.enqueue(f);
            },
          }),
        )
        : source;
      tapped.pipeTo(q.writable, { signal }).catch((e) => {
        // Aborted: the pipeline restarts or the agent stops, and the camera's stream ends.
        if (signal.aborted) return;
        this.#failed(`camera_${c.cameraId}`, "camera stream failed", e, { cameraId: c.cameraId });
      });
      return { config: c, stream: q.readable };
    });
    if (this.config.role === "secondary") {
      this.#task("send to primary", () => this.#sendToPrimary(cams.map((c) => c.stream), signal), {
        retry: false,
      });
      return;
    }
    const remote = (this.#options.remoteCameras ?? []).map((r) => ({
      config: { cameraId: r.cameraId, fps: r.fps },
      stream: (async () => {
        const nc = await this.#connecting;
        const messages = natsMessages(
          nc,
          subjects.frames({ region: this.config.region, deviceId: r.deviceId }, r.cameraId),
          { signal, capacity: 4 },
        );
        return remoteSource(messages, {
          cameraId: r.cameraId,
          metrics: this.metrics.stage(`camera_${r.cameraId}`),
        });
      })(),
    }));
    const all = [
      ...cams.map((c) => ({ config: c.config, stream: Promise.resolve(c.stream) })),
      ...remote,
    ];
    if (all.length === 0) return;
    const sync = new FrameSync({
      cameras: all.map((c) => ({ cameraId: c.config.cameraId, fps: c.config.fps })),
      metrics: this.metrics.stage("frame_sync"),
      signal,
    });
    const formats = new Map(
      this.config.cameras.map((
        c,
      ) => [c.cameraId, { width: c.width, height: c.height, format: "rgba" as const }]),
    );
    const validate = validateFrames(formats, { metrics: this.metrics.stage("validate") });
    Promise.all(all.map((c) => c.stream)).then((streams) => {
      // Remote frames arrive in their own format (I420): only local cameras are validated here.
      const local = mergeStreams(streams.slice(0, cams.length)).pipeThrough(validate);
      return mergeStreams([local, ...streams.slice(cams.length)]).pipeTo(sync.writable, { signal });
    }).catch((e) => {
      // Aborted: the pipeline restarts or the agent stops.
      if (!signal.aborted) this.#failed("frame_sync", "frame sync input failed", e);
    });
    this.#tasks.push((async () => {
      try {
        for await (const set of sync.readable) {
          this.#firstFrameAt ??= performance.now() - this.#started;
          this.#recognition?.observe(set);
          this.#lastSet?.[Symbol.dispose]();
          this.#lastSet = set;
          for (const f of set.frames.values()) this.#latest.set(f.cameraId, f);
        }
      } catch (e) {
        // Aborted: the pipeline restarts or the agent stops, and the frame sets end with it.
        if (!signal.aborted) this.#failed("frame_sync", "frame sets stopped", e);
      }
    })());
  }

  async #sendToPrimary(streams: ReadableStream<Frame>[], signal: AbortSignal): Promise<void> {
    if (streams.length === 0) return;
    const nc = await this.#connecting;
    const primary = { region: this.config.region, deviceId: this.config.primaryDeviceId! };
    const model = await runClockSync(
      natsClockProbe(nc, primary, { deviceId: this.config.deviceId }),
      {
        signal,
        onError: (e) => this.log("warn", "clock sync exchange failed", { error: e.message }),
      },
    );
    // Frames stamped before the first successful exchange would carry the wrong time.
    while (!model.ready && !signal.aborted) await new Promise((r) => setTimeout(r, 500));
    const kernels = await loadWasmKernels();
    const sink = remoteFrameSink(natsPublisher(nc), {
      device: this.#address,
      toReference: (ts) => model.toReference(ts),
      kernels,
      metrics: this.metrics.stage("remote_sink"),
    });
    await mergeStreams(streams).pipeThrough(
      new TransformStream<Frame, Frame>({
        transform: (f, c) => {
          this.#firstFrameAt ??= performance.now() - this.#started;
          this.#latest.set(f.cameraId, { ...f, data: f.data.slice(), [Symbol.dispose]() {} });
          c.enqueue(f);
        },
      }),
    ).pipeTo(sink, { signal }).catch((e) => {
      // Aborted: the pipeline restarts or the agent stops. Anything else fails the task (logged).
      if (!signal.aborted) throw e;
    });
  }

  /** Applies the config part of a desired state; returns the problems. */
  #applyConfig(
    config: NonNullable<ShadowState["config"]>,
  ): Array<{ field: string; reason: string }> {
    const errors: Array<{ field: string; reason: string }> = [];
    let timers = false;
    for (const [key, value] of Object.entries(config)) {
      const numeric = {
        heartbeatIntervalMs: [100, 600_000],
        telemetryIntervalMs: [500, 3_600_000],
        unlockMs: [1000, 120_000],
      } as const;
      if (key in numeric) {
        const [lo, hi] = numeric[key as keyof typeof numeric];
        if (typeof value !== "number" || !Number.isInteger(value) || value < lo || value > hi) {
          errors.push({
            field: `config.${key}`,
            reason: `must be an integer ${lo}-${hi}, got ${JSON.stringify(value)}`,
          });
          continue;
        }
        (this.config as Record<string, unknown>)[key] = value;
        if (key !== "unlockMs") timers = true;
      } else {
        errors.push({ field: `config.${key}`, reason: "unknown setting" });
      }
    }
    if (timers) this.#resetTimers();
    return errors;
  }

  #reportedState(): ShadowState {
    return {
      config: {
        heartbeatIntervalMs: this.config.heartbeatIntervalMs,
        telemetryIntervalMs: this.config.telemetryIntervalMs,
        unlockMs: this.config.unlockMs,
      },
      ...(this.config.modelVersion ? { modelVersion: this.config.modelVersion } : {}),
      cameras: Object.fromEntries(
        this.config.cameras.map((
          c,
        ) => [c.cameraId, { enabled: true, width: c.width, height: c.height, fps: c.fps }]),
      ),
    };
  }

  async #shadow(nc: NatsConnection, signal: AbortSignal): Promise<void> {
    // The cloud made the bucket; the device may only read and write its own keys.
    const kv = await new Kvm(jetstream(nc, { checkAPI: false })).open(
      bucketIn(buckets.shadow, this.config.region),
      {
        bindOnly: true,
        allow_direct: true,
      },
    );
    const report = async () => {
      await kv.put(
        shadowKey(this.config.deviceId, "reported"),
        shadow.encode({
          ...newEnvelope(),
          deviceId: this.config.deviceId,
          kind: "reported",
          state: {
            ...this.#reportedState(),
            components: await this.#updater!.installed(),
            ...(this.#deployment
              ? {
                deployment: {
                  deploymentId: this.#deployment.deploymentId,
                  targets: this.#deployment.targets.map((t) => ({ ...t })),
                },
              }
              : {}),
          },
          applied: this.#applied,
        }),
      );
    };
    await report();
    const watcher = await kv.watch({ key: shadowKey(this.config.deviceId, "desired") });
    signal.addEventListener("abort", () => watcher.stop(), { once: true });
    for await (const entry of watcher) {
      if (entry.operation !== "PUT") continue;
      const parsed = parseShadow(entry.value);
      if (!parsed.ok || parsed.value.kind !== "desired") {
        this.#applied = {
          desiredVersion: this.#desiredVersion,
          ok: false,
          errors: [{
            field: parsed.ok ? "kind" : parsed.error.field || "(message)",
            reason: parsed.ok ? "expected a desired state" : parsed.error.reason,
          }],
        };
        await report();
        continue;
      }
      const desired = parsed.value;
      if (desired.version <= this.#desiredVersion) continue;
      this.#desiredVersion = desired.version;
      const errors: Array<{ field: string; reason: string }> = [];
      if (desired.state.config) errors.push(...this.#applyConfig(desired.state.config));
      if (
        desired.state.modelVersion !== undefined &&
        desired.state.modelVersion !== this.config.modelVersion
      ) {
        errors.push({
          field: "modelVersion",
          reason: `model ${desired.state.modelVersion} is not installed on this device`,
        });
      }
      if (desired.state.deployment) {
        const order = desired.state.deployment;
        this.#deployment = order;
        // Downloads take a while: carried out in the background, reported as it goes.
        // handle() never throws (it reports its own failures); a report that fails is logged,
        // and the next report (the next desired state) says where the deployment is.
        void this.#updater!.handle(nc, order, signal).then(() => report()).catch((e) => {
          if (signal.aborted) return; // stopping: the next start reports
          this.#failed("agent", "cannot report the deployment's state", e, {
            deploymentId: order.deploymentId,
          }, "warn");
        });
      }
      if (desired.state.cameras) {
        let changed = false;
        for (const [cameraId, settings] of Object.entries(desired.state.cameras)) {
          const cam = this.config.cameras.find((c) => c.cameraId === cameraId);
          if (!cam) {
            errors.push({ field: `cameras.${cameraId}`, reason: "no such camera on this device" });
            continue;
          }
          if (!settings.enabled) {
            errors.push({
              field: `cameras.${cameraId}.enabled`,
              reason: "disabling a camera is not supported",
            });
            continue;
          }
          Object.assign(cam, { width: settings.width, height: settings.height, fps: settings.fps });
          changed = true;
        }
        if (changed) this.#restartPipeline();
      }
      this.#applied = { desiredVersion: desired.version, ok: errors.length === 0, errors };
      this.log("info", "desired state applied", {
        version: desired.version,
        errors: errors.length,
      });
      await report();
    }
  }

  #handlers(): Partial<Record<CommandRequest["command"], CommandHandler>> {
    const primaryOnly = (name: string) => {
      if (this.config.role !== "primary") {
        throw new CommandFailure("invalid", `${name} is handled by the machine's primary device`);
      }
    };
    return {
      unlock: async (req, context) => {
        primaryOnly("unlock");
        if (req.command !== "unlock") throw new CommandFailure("invalid", "not an unlock");
        if (this.hardware.door.state === "open") {
          throw new CommandFailure("busy", "the door is open: a session is in progress");
        }
        // The session belongs to the region whose cloud unlocked the door: its events go there.
        const region = context.subject?.split(".")[1];
        this.#pendingSession = req.args.sessionId
          ? { sessionId: req.args.sessionId, region: region ?? this.#servingRegion() }
          : undefined;
        await this.hardware.lock.unlock(req.args.durationMs);
        this.log("info", "door unlocked", {
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
        await this.hardware.lock.lock();
        return { locked: true };
      },
      snapshot: async (req) => {
        if (req.command !== "snapshot") throw new CommandFailure("invalid", "not a snapshot");
        const frame = this.#latest.get(req.args.cameraId);
        if (!frame) {
          throw new CommandFailure(
            "failed",
            `Cannot snapshot camera "${req.args.cameraId}": no frame from it`,
          );
        }
        const jpeg = await encodeJpeg(frame);
        const nc = await this.#connecting;
        const name = `${this.config.deviceId}/${req.args.cameraId}/${Math.round(frame.ts)}.jpg`;
        const upload = { region: this.config.region, deviceId: this.config.deviceId };
        await uploadBlob(nc, jpeg, { ...upload, bucket: "snapshots", object: name });
        // The latest picture of each camera under a fixed name too (the dashboard shows it).
        await uploadBlob(nc, jpeg, {
          ...upload,
          bucket: "snapshots",
          object: `${this.config.deviceId}/${req.args.cameraId}/latest.jpg`,
        });
        const digest = new Uint8Array(
          await crypto.subtle.digest("SHA-256", jpeg as Uint8Array<ArrayBuffer>),
        );
        return {
          bucket: "snapshots",
          name,
          bytes: jpeg.length,
          sha256: Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join(""),
          ts: frame.ts,
        };
      },
      set_config: (req) => {
        if (req.command !== "set_config") throw new CommandFailure("invalid", "not a set_config");
        const errors = this.#applyConfig(req.args.config);
        if (errors.length > 0) {
          throw new CommandFailure(
            "invalid",
            errors.map((e) => `${e.field}: ${e.reason}`).join("; "),
          );
        }
        return Promise.resolve({ applied: Object.keys(req.args.config) });
      },
      restart_pipeline: () => {
        this.#restartPipeline();
        return Promise.resolve({ restarted: true });
      },
      collect_logs: (req) => {
        if (req.command !== "collect_logs") {
          throw new CommandFailure("invalid", "not a collect_logs");
        }
        const since = req.args.since;
        const lines = this.#logs.filter((l) =>
          since === null || Date.parse(JSON.parse(l).ts) >= since
        ).slice(-req.args.lines);
        return Promise.resolve({ lines });
      },
      diagnostics: () => {
        const s = this.#stats.read();
        return Promise.resolve({
          deviceId: this.config.deviceId,
          role: this.config.role,
          connected: this.#connected,
          server: this.#nc?.getServer() ?? null,
          outbox: { ...this.outbox.stats() },
          recording: this.#recording ? { ...this.#recording.stats() } : null,
          door: this.#door,
          locked: this.hardware.lock.locked,
          cameras: [...this.#latest.keys()],
          stages: this.metrics.snapshot().map((m) => ({ ...m })),
          system: { ...s },
          appVersion: this.config.appVersion,
          modelVersion: this.config.modelVersion,
          startup: {
            processStart: performance.timeOrigin,
            firstHeartbeatAt: this.#firstHeartbeatAt === undefined
              ? null
              : performance.timeOrigin + this.#started + this.#firstHeartbeatAt,
            firstFrameAt: this.#firstFrameAt === undefined
              ? null
              : performance.timeOrigin + this.#started + this.#firstFrameAt,
          },
        });
      },
    };
  }

  async #commands(nc: NatsConnection, signal: AbortSignal): Promise<void> {
    const { trustedKeys, allowUnsigned } = this.config.commands;
    const processor = new CommandProcessor(
      this.outbox.database,
      this.config.deviceId,
      this.#handlers(),
      {
        // No pinned key and unsigned commands not allowed: every command is refused.
        ...(allowUnsigned && trustedKeys.length === 0 ? {} : { trustedKeys }),
        onRefused: (r) => {
          this.log(r.code === "replayed" ? "info" : "warn", "command refused", { ...r });
          // Audited in the cloud (through the outbox: a refusal while offline is not lost).
          const entry: AuditEntry = {
            ...newEnvelope(),
            actor: { subject: `device:${this.config.deviceId}`, role: "device" },
            action: r.code === "replayed" ? "command.replayed" : "command.refused",
            target: `device/${this.config.deviceId}`,
            outcome: "refused",
            requestId: r.commandId,
            before: null,
            after: null,
            reason: `${r.command || "command"} ${r.commandId}: ${r.message}`.slice(0, 500),
          };
          this.outbox.append({
            id: entry.id,
            subject: subjects.deviceAudit(this.#reportAddress()),
            data: auditEntry.encode(entry),
          });
        },
      },
    );
    const sub = nc.subscribe(filters.commands({ deviceId: this.config.deviceId }), {
      callback: (err, msg) => {
        if (err) {
          // The server refused the subscription (credentials without this device's commands).
          this.log("error", "command subscription refused", { error: err.message });
          return;
        }
        processor.handle(msg.data, { subject: msg.subject }).then((reply) => msg.respond(reply))
          .catch((e) => this.log("error", "command reply failed", { error: String(e) }));
      },
    });
    signal.addEventListener("abort", () => sub.unsubscribe(), { once: true });
    await sub.closed;
  }

  /** Stops everything, drains the connection and closes the outbox. */
  async stop(): Promise<void> {
    if (this.#stop.signal.aborted) return;
    this.#stop.abort();
    for (const t of this.#timers) clearInterval(t);
    this.#pipeline?.abort();
    this.#lastSet?.[Symbol.dispose]();
    const nc = this.#nc;
    // Each step of the stop is timed: one that is slow is named in the log.
    const step = async (name: string, run: () => PromiseLike<unknown>) => {
      const t0 = performance.now();
      await run();
      const ms = Math.round(performance.now() - t0);
      if (ms >= 1000) this.log("warn", "a step of the stop was slow", { step: name, ms });
    };
    this.log("info", "stopping");
    await step(
      "tasks",
      () =>
        Promise.race([Promise.allSettled(this.#tasks), new Promise((r) => setTimeout(r, 2000))]),
    );
    await step("recording", async () => {
      await this.#recording?.[Symbol.asyncDispose]().catch((e) =>
        this.log("error", "recording did not stop cleanly", { error: String(e) })
      );
    });
    await step("connection", async () => {
      if (nc) {
        // Bounded: a stuck connection's drain never ends, and the program would not either.
        const end = await drainWithin(nc, { timeoutMs: 2000 }).catch((e) => {
          this.#failed("agent", "the NATS connection did not close cleanly", e, {}, "warn");
          return "failed";
        });
        if (end !== "drained") this.log("warn", "the NATS connection did not drain", { end });
      } else {
        // Stopped before the first connection: one that comes late is closed. A first connection
        // that failed leaves nothing to close (and was logged if it failed before the stop).
        this.#connecting.then(
          (c) =>
            c.close().catch((e) =>
              this.#failed("agent", "cannot close the late connection", e, {}, "warn")
            ),
          (e) => this.log("debug", "no connection to close", { error: String(e) }),
        );
      }
    });
    this.outbox.close();
    await step("hardware", () => this.hardware[Symbol.asyncDispose]());
    this.log("info", "stopped");
  }

  /** Same as {@link Agent.stop}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
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
