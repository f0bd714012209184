/**
 * The device's updates: the {@link Updater} wired to the agent (progress through the outbox, a
 * model applied hot, a restart into a new slot), and the health of a version on trial, told to
 * the supervisor once NATS is connected, a heartbeat went and the pipeline runs.
 *
 * @module
 */
import { deploymentEvent, newEnvelope, subjects } from "../../protocol/mod.ts";
import type { AgentConfig } from "../config/mod.ts";
import type { Outbox } from "../delivery/mod.ts";
import { OtaSlots, Updater } from "../updates/mod.ts";
import type { AgentHooks } from "./agent_hooks.ts";
import type { AgentLog } from "./_log_ring.ts";
import { sleep } from "../../runtime/mod.ts";

/** Options of {@link openUpdater}. */
export interface OpenUpdaterOptions {
  /** Where progress is stored for delivery. */
  readonly outbox: Pick<Outbox, "append">;
  /** The address progress is reported to now. */
  readonly reportAddress: () => { region: string; deviceId: string };
  /** Loads (or swaps to) the model in a folder; rejects if the model is refused. */
  readonly useModel: (dir: string) => Promise<void>;
  /** Runs the model in a folder beside the live one (shadow mode); rejects if it is refused. */
  readonly useCandidate: (dir: string) => Promise<void>;
  /** Stops the candidate model running beside the live one. */
  readonly stopCandidate: () => Promise<void>;
  /** Hooks at points of the agent's work (fault tests). */
  readonly hooks?: AgentHooks | undefined;
  /** Arguments the program was started with (a new slot is started with the same). */
  readonly args?: readonly string[] | undefined;
  /** Whether a supervisor runs this agent. Default: when VEND_OTA_DIR is set. */
  readonly supervised?: boolean | undefined;
  /** Called when an update switched slots and the agent must be started again. */
  readonly onRestartRequested?: (() => void) | undefined;
  /** Log sink. */
  readonly log: AgentLog;
}

/** Opens the update slots (the supervisor's, or the device's own) and the updater over them. */
export async function openUpdater(
  config: AgentConfig,
  options: OpenUpdaterOptions,
): Promise<Updater> {
  const { log } = options;
  const supervisorDir = Deno.env.get("VEND_OTA_DIR");
  const dir = config.ota.dir ?? supervisorDir ?? `${config.dataDir}/ota`;
  const slots = await OtaSlots.open(dir);
  const beforePhase = options.hooks?.beforeUpdatePhase;
  return new Updater({
    slots,
    deviceId: config.deviceId,
    agentVersion: config.appVersion,
    agentArgs: options.args ?? [],
    trustedKeys: config.ota.trustedKeys,
    supervised: options.supervised ?? supervisorDir !== undefined,
    progress: (step) => {
      const env = newEnvelope();
      options.outbox.append({
        id: env.id,
        subject: subjects.updateProgress(options.reportAddress()),
        data: deploymentEvent.encode({
          ...env,
          deviceId: config.deviceId,
          type: "update_progress",
          ...step,
        }),
      });
    },
    applyHot: async (recipe, files, { mode }) => {
      if (recipe.kind !== "model") return;
      const manifest = files["model.json"];
      if (manifest && config.role === "primary") {
        // Loaded and checked before it serves; a refused model fails the update, the old
        // one keeps serving (alone, for a refused candidate).
        const dir = manifest.slice(0, manifest.lastIndexOf("/"));
        await (mode === "shadow" ? options.useCandidate(dir) : options.useModel(dir));
      }
      if (mode === "live") config.modelVersion = recipe.version;
    },
    stopCandidate: () => options.stopCandidate(),
    restart: () => {
      if (options.onRestartRequested) options.onRestartRequested();
      else log("warn", "an update needs a restart, and nothing restarts this agent");
    },
    ...(beforePhase ? { beforePhase: (phase: string) => beforePhase(phase, dir) } : {}),
    log: (level, msg, fields) => log(level, msg, fields),
  });
}

/** Options of {@link reportHealthy}. */
export interface ReportHealthyOptions {
  /** The version running, and whether it has cameras. */
  readonly config: Pick<AgentConfig, "appVersion" | "cameras">;
  /** Whether NATS is connected now. */
  readonly connected: () => boolean;
  /** When the first frame came, if one did. */
  readonly firstFrameAt: () => number | undefined;
  /** When the first heartbeat went, if one did. */
  readonly firstHeartbeatAt: () => number | undefined;
  /** The updater (it settles the trial once the version is healthy). */
  readonly updater: Pick<Updater, "settleTrial">;
  /** Hooks at points of the agent's work (fault tests). */
  readonly hooks?: AgentHooks | undefined;
}

/** The version the supervisor waits for is healthy: NATS connected and the pipeline running. */
export async function reportHealthy(
  signal: AbortSignal,
  options: ReportHealthyOptions,
): Promise<void> {
  const { config } = options;
  const dir = Deno.env.get("VEND_OTA_DIR");
  if (!dir) return;
  while (!signal.aborted) {
    const pipeline = config.cameras.length === 0 || options.firstFrameAt() !== undefined;
    if (options.connected() && pipeline && options.firstHeartbeatAt() !== undefined) {
      const beforeHealthy = options.hooks?.beforeTrialHealthy;
      if (beforeHealthy && (await onTrial(dir))) await beforeHealthy(dir);
      const tmp = `${dir}/healthy.json.tmp`;
      await Deno.writeTextFile(
        tmp,
        JSON.stringify({ version: config.appVersion, pid: Deno.pid, at: Date.now() }),
      );
      await Deno.rename(tmp, `${dir}/healthy.json`);
      await options.updater.settleTrial(signal);
      return;
    }
    await sleep(200);
  }
}

async function onTrial(dir: string): Promise<boolean> {
  const state = await (await OtaSlots.open(dir)).read();
  return state.trial !== null;
}
