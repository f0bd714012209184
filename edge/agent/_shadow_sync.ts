/**
 * The device's shadow: it reports its state (settings, model, cameras, installed components,
 * the deployment it follows, and how it applied the last desired state) to its key of the
 * region's shadow bucket, and applies each newer desired state (settings, camera settings, a
 * deployment) as it is written.
 *
 * @module
 */
import { jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import {
  bucketIn,
  buckets,
  newEnvelope,
  parseShadow,
  shadow,
  shadowKey,
  type ShadowState,
} from "../../protocol/mod.ts";
import type { AgentConfig } from "../config/mod.ts";
import type { DeploymentOrder, Updater } from "../updates/mod.ts";
import type { AgentLog, FailureLog } from "./_log_ring.ts";
import type { Calibration, MachinePlanogram } from "../../protocol/mod.ts";

/** A setting that could not be applied, and why. */
export interface SettingError {
  /** The field, as the desired state spells it (`config.unlockMs`). */
  field: string;
  /** Why it was not applied. */
  reason: string;
}

/** Options of {@link applyConfig}. */
export interface ApplyConfigOptions {
  /** Called when a heartbeat or telemetry interval changed. */
  readonly onIntervalsChanged: () => void;
}

/**
 * Applies the config part of a desired state (or of a `set_config` command) to `config`, the
 * configuration in force; returns the problems (the settings in error are left as they were).
 */
export function applyConfig(
  config: Pick<AgentConfig, "heartbeatIntervalMs" | "telemetryIntervalMs" | "unlockMs">,
  settings: NonNullable<ShadowState["config"]>,
  options: ApplyConfigOptions,
): SettingError[] {
  const errors: SettingError[] = [];
  let timers = false;
  for (const [key, value] of Object.entries(settings)) {
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
      (config as Record<string, unknown>)[key] = value;
      if (key !== "unlockMs") timers = true;
    } else {
      errors.push({ field: `config.${key}`, reason: "unknown setting" });
    }
  }
  if (timers) options.onIntervalsChanged();
  return errors;
}

/** Options of {@link ShadowSync}. */
export interface ShadowSyncOptions {
  /** The configuration in force (a desired state changes its settings and cameras). */
  readonly config: Pick<
    AgentConfig,
    | "deviceId"
    | "region"
    | "modelVersion"
    | "cameras"
    | "heartbeatIntervalMs"
    | "telemetryIntervalMs"
    | "unlockMs"
  >;
  /** The updater (installed components; a desired deployment is handed to it). */
  readonly updater: Pick<Updater, "installed" | "handle">;
  /** Applies the config part of a desired state (see {@link applyConfig}). */
  readonly applyConfig: (settings: NonNullable<ShadowState["config"]>) => SettingError[];
  /** Restarts the camera pipeline (camera settings changed). */
  readonly restartPipeline: () => void;
  /** The machine's planogram, on a device that recognizes (a primary). */
  readonly planogram?: {
    /** Applies the cloud's planogram (from the next door session on); why it is refused. */
    apply(planogram: MachinePlanogram): SettingError[];
    /** The planogram in use, if any. */
    readonly current: MachinePlanogram | undefined;
    /** The slots the cameras see, once known. */
    readonly calibration: Calibration | undefined;
  };
  /** Log sink. */
  readonly log: AgentLog;
  /** Failures that must not stop the agent. */
  readonly failed: FailureLog;
}

/** The device's side of its shadow. */
export class ShadowSync {
  readonly #options: ShadowSyncOptions;
  #deployment: DeploymentOrder | undefined;
  #desiredVersion = 0;
  #report: (() => Promise<void>) | undefined;
  #applied: { desiredVersion: number; ok: boolean; errors: SettingError[] } = {
    desiredVersion: 0,
    ok: true,
    errors: [],
  };

  /** No desired state applied yet. */
  constructor(options: ShadowSyncOptions) {
    this.#options = options;
  }

  /** Reports the state again (the planogram in use changed); a failed report is logged. */
  changed(): void {
    this.#report?.().catch((e) =>
      this.#options.failed("agent", "cannot report the shadow", e, {}, "warn")
    );
  }

  #reportedState(): ShadowState {
    const { config } = this.#options;
    const planogram = this.#options.planogram?.current;
    const calibration = this.#options.planogram?.calibration;
    return {
      ...(planogram ? { planogram } : {}),
      ...(calibration?.length ? { calibration } : {}),
      config: {
        heartbeatIntervalMs: config.heartbeatIntervalMs,
        telemetryIntervalMs: config.telemetryIntervalMs,
        unlockMs: config.unlockMs,
      },
      ...(config.modelVersion ? { modelVersion: config.modelVersion } : {}),
      cameras: Object.fromEntries(
        config.cameras.map((
          c,
        ) => [c.cameraId, { enabled: true, width: c.width, height: c.height, fps: c.fps }]),
      ),
    };
  }

  /** Reports the state, then applies each newer desired state until `signal` aborts. */
  async run(nc: NatsConnection, signal: AbortSignal): Promise<void> {
    const { config, updater } = this.#options;
    // The cloud made the bucket; the device may only read and write its own keys.
    const kv = await new Kvm(jetstream(nc, { checkAPI: false })).open(
      bucketIn(buckets.shadow, config.region),
      {
        bindOnly: true,
        allow_direct: true,
      },
    );
    const report = async () => {
      await kv.put(
        shadowKey(config.deviceId, "reported"),
        shadow.encode({
          ...newEnvelope(),
          deviceId: config.deviceId,
          kind: "reported",
          state: {
            ...this.#reportedState(),
            components: await updater.installed(),
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
    this.#report = report;
    signal.addEventListener("abort", () => (this.#report = undefined), { once: true });
    await report();
    const watcher = await kv.watch({ key: shadowKey(config.deviceId, "desired") });
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
      const errors = this.#apply(desired.state, { nc, signal, report });
      this.#applied = { desiredVersion: desired.version, ok: errors.length === 0, errors };
      this.#options.log("info", "desired state applied", {
        version: desired.version,
        errors: errors.length,
      });
      await report();
    }
  }

  /** Applies a desired state; returns the problems. */
  #apply(
    state: ShadowState,
    { nc, signal, report }: {
      nc: NatsConnection;
      signal: AbortSignal;
      report: () => Promise<void>;
    },
  ): SettingError[] {
    const { config, updater } = this.#options;
    const errors: SettingError[] = [];
    if (state.config) errors.push(...this.#options.applyConfig(state.config));
    if (state.planogram && this.#options.planogram) {
      errors.push(...this.#options.planogram.apply(state.planogram));
    }
    if (state.modelVersion !== undefined && state.modelVersion !== config.modelVersion) {
      errors.push({
        field: "modelVersion",
        reason: `model ${state.modelVersion} is not installed on this device`,
      });
    }
    if (state.deployment) {
      const order = state.deployment;
      this.#deployment = order;
      // Downloads take a while: carried out in the background, reported as it goes.
      // handle() never throws (it reports its own failures); a report that fails is logged,
      // and the next report (the next desired state) says where the deployment is.
      void updater.handle(nc, order, signal).then(() => report()).catch((e) => {
        if (signal.aborted) return; // stopping: the next start reports
        this.#options.failed("agent", "cannot report the deployment's state", e, {
          deploymentId: order.deploymentId,
        }, "warn");
      });
    }
    if (state.cameras && this.#applyCameras(state.cameras, errors)) {
      this.#options.restartPipeline();
    }
    return errors;
  }

  /** Applies camera settings (adding the problems to `errors`); whether any changed. */
  #applyCameras(
    cameras: NonNullable<ShadowState["cameras"]>,
    errors: SettingError[],
  ): boolean {
    let changed = false;
    for (const [cameraId, settings] of Object.entries(cameras)) {
      const cam = this.#options.config.cameras.find((c) => c.cameraId === cameraId);
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
    return changed;
  }
}
