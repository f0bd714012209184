/**
 * The recognition a primary serves: none until a model loads, then one {@link DeviceRecognition}
 * whose model an update can swap (a refused model leaves the old one serving). It keeps the
 * configuration's model version in step with the model serving, and owns the planogram it
 * decides by: the cabinet's calibration (the configured planogram file, or a simulated
 * cabinet's geometry) with the SKUs of the machine's planogram as the cloud sends it, applied
 * between door sessions. A simulated cabinet's restocker then fills the shelves by it.
 *
 * @module
 */
import {
  assignSkus,
  ModelLoadError,
  type Planogram,
  PlanogramError,
  simulatedPlanogram,
} from "../../pipeline/mod.ts";
import type { Calibration, MachinePlanogram } from "../../protocol/mod.ts";
import { type AgentConfig, ConfigError, PlanogramSchema } from "../config/mod.ts";
import type { SimulatedScene } from "../sim/mod.ts";
import { DeviceRecognition } from "./device_recognition.ts";
import type { AgentLog } from "./_log_ring.ts";
import type { SettingError } from "./_shadow_sync.ts";

/** Options of {@link AgentRecognition}. */
export interface AgentRecognitionOptions {
  /**
   * The scene of a simulated cabinet: its geometry is the calibration when no planogram file is
   * configured, and its restocker fills the shelves by the planogram in use.
   */
  readonly scene: Pick<SimulatedScene, "current" | "stock">;
  /** The cabinet's cameras (its own and those it receives): every slot must be seen by one. */
  readonly cameras: readonly string[];
  /** Log sink. */
  readonly log: AgentLog;
  /** Called when another planogram of the cloud's is in use (to report it). */
  readonly onPlanogram?: () => void;
}

/** The agent's recognition: the model serving, if one loaded, and the planogram in use. */
export class AgentRecognition {
  readonly #config: Pick<AgentConfig, "recognition" | "modelVersion">;
  readonly #options: AgentRecognitionOptions;
  #recognition: DeviceRecognition | undefined;
  #calibration: Planogram | undefined;
  /** The cloud's planogram in use, and one accepted that waits for the door to close. */
  #inUse: MachinePlanogram | undefined;
  #accepted: MachinePlanogram | undefined;

  /** No model serving yet; `config`'s model version is set as one starts. */
  constructor(
    config: Pick<AgentConfig, "recognition" | "modelVersion">,
    options: AgentRecognitionOptions,
  ) {
    this.#config = config;
    this.#options = options;
  }

  /** The recognition serving, if a model loaded. */
  get current(): DeviceRecognition | undefined {
    return this.#recognition;
  }

  /** The cloud's planogram the cabinet decides by, if one was applied. */
  get planogram(): MachinePlanogram | undefined {
    return this.#inUse;
  }

  /** The slots the cabinet's cameras see (known once a model serves). */
  get calibration(): Calibration | undefined {
    return this.#calibration?.slots.map((s) => ({
      shelf: s.shelf,
      slot: s.slot,
      cameras: Object.keys(s.regions).filter((c) => this.#options.cameras.includes(c)),
    })).filter((s) => s.cameras.length > 0);
  }

  /** Loads the model in `dir`, or (running) swaps to it; a refused model leaves the old one. */
  async use(dir: string): Promise<void> {
    if (this.#recognition) {
      await this.#recognition.useModelDir(dir);
    } else {
      const c = this.#config.recognition;
      const calibration = await this.#readCalibration();
      try {
        this.#recognition = await DeviceRecognition.start(dir, {
          planogram: calibration,
          backend: c.backend,
          threads: c.threads,
          threshold: c.threshold,
          cameras: this.#options.cameras,
          log: (level, msg, fields) => this.#options.log(level, msg, fields),
        });
      } catch (e) {
        // The configured planogram does not fit the model or the cameras: the file is at fault.
        if (e instanceof PlanogramError && c.planogram) {
          throw new ConfigError(c.planogram, [`${c.planogram}: ${e.field}: ${e.message}`]);
        }
        throw e;
      }
      this.#calibration = calibration;
      // A planogram the cloud sent before the model loaded is applied now.
      const waiting = this.#accepted;
      this.#accepted = undefined;
      if (waiting) {
        for (const e of this.apply(waiting)) {
          this.#options.log("warn", "planogram refused", { ...e, version: waiting.version });
        }
      }
    }
    this.#config.modelVersion = this.#recognition.modelVersion.split(" ")[1] ?? null;
    this.#options.log("info", "recognition model serving", {
      model: this.#recognition.modelVersion,
    });
  }

  /**
   * Runs the model in `dir` beside the one serving as a candidate (shadow mode: decided, published,
   * never charged); refused with `ModelLoadError` (the live model goes on alone) when it does not
   * fit, or no model serves yet.
   */
  async useCandidate(dir: string): Promise<void> {
    if (!this.#recognition) {
      throw new ModelLoadError(`Cannot run the model in ${dir} in shadow mode: no model serves`);
    }
    await this.#recognition.useCandidateDir(dir);
    this.#options.log("info", "candidate model running in shadow mode", {
      model: this.#recognition.candidateVersion,
      live: this.#recognition.modelVersion,
    });
  }

  /** Stops the candidate model running beside the one serving, if one runs. */
  async stopCandidate(): Promise<void> {
    const was = this.#recognition?.candidateVersion;
    if (!this.#recognition || was === undefined) return;
    await this.#recognition.useCandidateDir(undefined);
    this.#options.log("info", "candidate model stopped", { model: was, reason: "deployed so" });
  }

  /**
   * Applies the machine's planogram from the cloud (from the next door session on); returns why
   * it is refused (the fields under `planogram.`), and then the one in use stays.
   */
  apply(planogram: MachinePlanogram): SettingError[] {
    if (planogram.version === (this.#accepted ?? this.#inUse)?.version) return [];
    const recognition = this.#recognition;
    const calibration = this.#calibration;
    if (!recognition || !calibration) {
      // Checked against the model once one loads.
      this.#accepted = planogram;
      return [];
    }
    let assigned: Planogram;
    try {
      assigned = assignSkus(calibration, planogram.slots, { cameras: this.#options.cameras });
      const unknown = [...new Set(planogram.slots.map((s) => s.sku))]
        .filter((sku): sku is string => sku !== null && !recognition.labels.includes(sku));
      if (unknown.length > 0) {
        // Newly stocked products: their slots' sessions go to review until a model learns them.
        this.#options.log("warn", "planogram stocks SKUs the model does not know", {
          version: planogram.version,
          model: recognition.modelVersion,
          skus: unknown,
        });
      }
      this.#accepted = planogram;
      recognition.usePlanogram(
        { ...assigned, version: planogram.version },
        () => this.#inEffect(planogram),
      );
    } catch (e) {
      if (!(e instanceof PlanogramError)) throw e;
      return [{ field: `planogram.${e.field}`, reason: e.message }];
    }
    return [];
  }

  #inEffect(planogram: MachinePlanogram): void {
    this.#inUse = planogram;
    if (this.#accepted === planogram) this.#accepted = undefined;
    // A simulated cabinet: the restocker fills the shelves by it (between door sessions).
    if (!this.#config.recognition.planogram) this.#options.scene.stock(planogram.slots);
    this.#options.log("info", "planogram in use", { version: planogram.version });
    this.#options.onPlanogram?.();
  }

  /** The configured planogram file, or a simulated cabinet's calibration (no SKUs yet). */
  async #readCalibration(): Promise<Planogram> {
    const file = this.#config.recognition.planogram;
    if (!file) {
      // A simulated cabinet: its geometry, as an installer would calibrate it. What each slot
      // holds is the machine's planogram's to say (until the cloud sends one, none).
      const geometry = simulatedPlanogram(this.#options.scene.current.scenario);
      return { slots: geometry.slots.map((s) => ({ ...s, sku: null })) };
    }
    const parsed = PlanogramSchema.safeParse(JSON.parse(await Deno.readTextFile(file)));
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new ConfigError(file, [`${file}: ${issue.path.join(".")}: ${issue.message}`]);
    }
    return parsed.data;
  }
}
