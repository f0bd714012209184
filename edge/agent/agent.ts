/**
 * The device agent: runs unattended on each device of a vending machine. It keeps a NATS
 * connection that reconnects forever (jittered backoff, failover across servers), heartbeats
 * and reports telemetry, keeps its shadow (reported state; applies desired state), obeys remote
 * commands, runs the camera pipeline, turns door sessions into events, and delivers every event
 * that must not be lost through its durable outbox.
 *
 * This file starts and stops those parts as one task group; each part is in its own file, over
 * the state it owns: the connection and credentials (`_device_connection.ts`), door sessions and
 * their journal (`_door_sessions.ts`, `_door_journal.ts`), the camera pipeline
 * (`_camera_pipeline.ts`), heartbeats and telemetry (`_status_reports.ts`), the shadow
 * (`_shadow_sync.ts`), the commands (`_device_commands.ts`), updates and their health
 * (`_device_updates.ts`), recognition (`_agent_recognition.ts`) and the log ring (`_log_ring.ts`).
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
import { MetricsRegistry } from "../../pipeline/mod.ts";
import type { DeviceAddress, ShadowState } from "../../protocol/mod.ts";
import type { AgentConfig } from "../config/mod.ts";
import { Outbox, returnHome, serveClock } from "../delivery/mod.ts";
import { DeviceRecording } from "../recording/mod.ts";
import { type Hardware, type LedColor, LinuxHardware, SystemStatsReader } from "../hardware/mod.ts";
import type { Updater } from "../updates/mod.ts";
import { type CartDecider, SimulatedHardware, SimulatedScene } from "../sim/mod.ts";
import type { AgentHooks } from "./agent_hooks.ts";
import { AgentRecognition } from "./_agent_recognition.ts";
import { CameraPipeline, type RemoteCamera } from "./_camera_pipeline.ts";
import { DeviceConnection, keepCredentials } from "./_device_connection.ts";
import {
  type CommandHandlers,
  diagnosticsCommand,
  doorCommands,
  logsCommand,
  serveCommands,
  settingsCommands,
  snapshotCommand,
} from "./_device_commands.ts";
import { openUpdater, reportHealthy } from "./_device_updates.ts";
import { DoorSessions } from "./_door_sessions.ts";
import { type AgentLog, type FailureLog, LogRing } from "./_log_ring.ts";
import { applyConfig, type SettingError, ShadowSync } from "./_shadow_sync.ts";
import { StatusReports } from "./_status_reports.ts";
import { sleep } from "../../runtime/mod.ts";

export type { RemoteCamera } from "./_camera_pipeline.ts";

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
  readonly #logs: LogRing;
  readonly #started = performance.now();
  readonly #address: DeviceAddress;
  readonly #connection: DeviceConnection;
  readonly #recognition: AgentRecognition;
  #shadow: ShadowSync | undefined;
  readonly #sessions: DoorSessions;
  readonly #pipeline: CameraPipeline;
  readonly #reports: StatusReports;
  #recording: DeviceRecording | undefined;
  #updater: Updater | undefined;
  /** The agent's task group: every background loop, which the stop waits for. */
  #tasks: Promise<unknown>[] = [];
  /** {@link Agent.log}, as the agent's parts are given it. */
  readonly #log: AgentLog = (level, msg, fields) => this.log(level, msg, fields);
  /** The agent's failures that must not stop it, as its parts are given them. */
  readonly #failure: FailureLog = (...args) => this.#failed(...args);

  private constructor(config: AgentConfig, options: AgentOptions, hardware: Hardware) {
    this.config = structuredClone(config);
    this.#logs = new LogRing({ deviceId: this.config.deviceId, sink: options.log });
    this.#options = options;
    this.hardware = hardware;
    this.#address = { region: config.region, deviceId: config.deviceId };
    const log = this.#log;
    const failed = this.#failure;
    this.#stats = new SystemStatsReader(config.dataDir, { log });
    const scene = options.scene ?? new SimulatedScene({ machineId: config.machineId });
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
    const connection = new DeviceConnection(this.config, { log, failed });
    this.#connection = connection;
    const recognition = new AgentRecognition(this.config, {
      scene,
      log,
      onPlanogram: () => this.#shadow?.changed(),
      cameras: [
        ...config.cameras.map((c) => c.cameraId),
        ...(options.remoteCameras ?? []).map((r) => r.cameraId),
      ],
    });
    this.#recognition = recognition;
    const recording = () => this.#recording;
    this.#sessions = new DoorSessions({
      config: this.config,
      outbox: this.outbox,
      door: hardware.door,
      servingRegion: () => connection.servingRegion(),
      recording,
      decider: () => options.cartDecider ?? recognition.current,
      log,
    });
    this.#pipeline = new CameraPipeline({
      config: this.config,
      address: this.#address,
      scene,
      metrics: this.metrics,
      remoteCameras: options.remoteCameras ?? [],
      recording,
      recognition: () => recognition.current,
      connecting: connection.connecting,
      started: this.#started,
      stopSignal: this.#stop.signal,
      task: (name, run, opts) => this.#task(name, run, opts),
      track: (work) => this.#tasks.push(work),
      log,
      failed,
    });
    this.#reports = new StatusReports({
      config: this.config,
      connection,
      outbox: this.outbox,
      stats: this.#stats,
      metrics: this.metrics,
      door: () => this.#sessions.door,
      cameraIds: () => this.#pipeline.cameraIds(),
      recording,
      started: this.#started,
    });
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
    agent.#updater = await openUpdater(agent.config, {
      outbox: agent.outbox,
      reportAddress: () => agent.#connection.reportAddress(),
      useModel: (dir) => agent.#recognition.use(dir),
      useCandidate: (dir) => agent.#recognition.useCandidate(dir),
      stopCandidate: () => agent.#recognition.stopCandidate(),
      hooks: options.hooks,
      args: options.args,
      supervised: options.supervised,
      onRestartRequested: options.onRestartRequested,
      log: agent.#log,
    });
    if (config.role === "primary") await agent.#startRecognition(agent.#updater);
    agent.#run();
    return agent;
  }

  /**
   * Loads the model an update installed last (else the configured one) and the candidate beside
   * it, if one ran: selling goes on without them (sessions go to review until a model loads).
   */
  async #startRecognition(updater: Updater): Promise<void> {
    const { live, candidate } = await updater.models.read();
    // The updated model, else (none, or it no longer loads) the configured one.
    const dirs = [...new Set([live?.dir, this.config.recognition.model])];
    for (const dir of dirs.filter((d): d is string => d !== undefined)) {
      try {
        await this.#recognition.use(dir);
        break;
      } catch (e) {
        this.log("error", "recognition cannot start", { model: dir, error: String(e) });
      }
    }
    if (!candidate || !this.#recognition.current) return;
    await this.#recognition.useCandidate(candidate.dir).catch((e) =>
      // The live model goes on alone.
      this.log("error", "candidate model cannot run", { model: candidate.dir, error: String(e) })
    );
  }

  /** Writes a structured log line (kept for `collect_logs`). */
  log(
    level: "debug" | "info" | "warn" | "error",
    msg: string,
    fields: Record<string, unknown> = {},
  ): void {
    this.#logs.write(level, msg, fields);
  }

  /**
   * Runs a background loop in the agent's task group; when it fails (an outage, a full outbox)
   * the error is logged and the loop starts again after a pause, until the agent stops. Nothing
   * rejects unhandled.
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
          await sleep(pause, { signal });
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
    return this.#connection.connected;
  }

  /** The shadow's view of the planogram the recognition decides by. */
  #planogramPart(): NonNullable<ConstructorParameters<typeof ShadowSync>[0]["planogram"]> {
    const recognition = this.#recognition;
    return {
      apply: (p) => recognition.apply(p),
      get current() {
        return recognition.planogram;
      },
      get calibration() {
        return recognition.calibration;
      },
    };
  }

  /** Applies settings to the configuration in force (the shadow's and `set_config`'s). */
  #applyConfig(settings: NonNullable<ShadowState["config"]>): SettingError[] {
    return applyConfig(this.config, settings, {
      onIntervalsChanged: () => this.#reports.resetTimers(),
    });
  }

  #run(): void {
    const signal = this.#stop.signal;
    const log = this.#log;
    const connection = this.#connection;
    const updater = this.#updater!;
    const shadow = new ShadowSync({
      config: this.config,
      updater,
      applyConfig: (settings) => this.#applyConfig(settings),
      restartPipeline: () => this.#pipeline.restart(),
      ...(this.config.role === "primary" ? { planogram: this.#planogramPart() } : {}),
      log,
      failed: this.#failure,
    });
    this.#shadow = shadow;
    this.#led("amber");
    this.#pipeline.restart();
    if (this.config.role === "primary") {
      this.#task("door sessions", () => this.#sessions.run(signal));
    }
    this.#tasks.push(
      (async () => {
        const nc = await Promise.race([
          connection.connecting,
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
        const policy = connection.homeFirst;
        if (policy) {
          this.#task("return home", () =>
            returnHome(nc, policy, {
              signal,
              onReturn: () => this.log("info", "going back to the home region's servers"),
            }));
        }
        this.#task("commands", () =>
          serveCommands(nc, signal, {
            config: this.config,
            handlers: this.#handlers(),
            outbox: this.outbox,
            reportAddress: () => connection.reportAddress(),
            log,
          }));
        if (this.config.provisioning) {
          this.#task("credentials", () =>
            keepCredentials(nc, signal, {
              config: this.config,
              door: () => this.#sessions.door,
              log,
            }));
        }
        this.#task("shadow", () => shadow.run(nc, signal));
        const recording = this.#recording;
        if (recording) this.#task("clip upload", () => recording.run(nc, signal));
        this.#task("report update outcome", () => updater.reportOutcome(), { retry: false });
        this.#task("health", () =>
          reportHealthy(signal, {
            config: this.config,
            connected: () => connection.connected,
            firstFrameAt: () => this.#pipeline.firstFrameAt,
            firstHeartbeatAt: () => this.#reports.firstHeartbeatAt,
            updater,
            hooks: this.#options.hooks,
          }), { retry: false });
        if (this.config.role === "primary") {
          await serveClock(nc, this.#address, { signal });
        } else {
          this.#task("follow primary", () => this.#sessions.followPrimary(nc, signal));
        }
        this.#reports.heartbeat();
        this.#reports.telemetry();
        this.#reports.resetTimers();
      })().catch((e) => {
        if (!signal.aborted) this.log("error", "agent start failed", { error: String(e) });
      }),
    );
  }

  /** The device's commands, each group given a view of what it acts on. */
  #handlers(): CommandHandlers {
    const pipeline = this.#pipeline;
    const sessions = this.#sessions;
    const log = this.#log;
    return {
      ...doorCommands({
        config: this.config,
        hardware: this.hardware,
        expectSession: (session) => sessions.expect(session),
        servingRegion: () => this.#connection.servingRegion(),
        log,
      }),
      ...snapshotCommand({
        config: this.config,
        latest: (cameraId) => pipeline.latest(cameraId),
        connecting: this.#connection.connecting,
      }),
      ...settingsCommands({
        applyConfig: (settings) => this.#applyConfig(settings),
        restartPipeline: () => pipeline.restart(),
      }),
      ...logsCommand(this.#logs),
      ...diagnosticsCommand({
        config: this.config,
        connection: this.#connection,
        outbox: this.outbox,
        recording: () => this.#recording,
        door: () => sessions.door,
        lock: this.hardware.lock,
        cameraIds: () => pipeline.cameraIds(),
        metrics: this.metrics,
        stats: this.#stats,
        started: this.#started,
        firstHeartbeatAt: () => this.#reports.firstHeartbeatAt,
        firstFrameAt: () => pipeline.firstFrameAt,
      }),
    };
  }

  /** Stops everything, drains the connection and closes the outbox. */
  async stop(): Promise<void> {
    if (this.#stop.signal.aborted) return;
    this.#stop.abort();
    this.#reports.stop();
    this.#pipeline.stop();
    const nc = this.#connection.nc;
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
    await step("connection", () => this.#connection.close(nc));
    this.outbox.close();
    await step("hardware", () => this.hardware[Symbol.asyncDispose]());
    this.log("info", "stopped");
  }

  /** Same as {@link Agent.stop}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}
