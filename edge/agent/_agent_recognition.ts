/**
 * The recognition a primary serves: none until a model loads, then one {@link DeviceRecognition}
 * whose model an update can swap (a refused model leaves the old one serving). It keeps the
 * configuration's model version in step with the model serving.
 *
 * @module
 */
import { type Planogram, PlanogramError, simulatedPlanogram } from "../../pipeline/mod.ts";
import { type AgentConfig, ConfigError, PlanogramSchema } from "../config/mod.ts";
import type { SimulatedScene } from "../sim/mod.ts";
import { DeviceRecognition } from "./device_recognition.ts";
import type { AgentLog } from "./_log_ring.ts";

/** Options of {@link AgentRecognition}. */
export interface AgentRecognitionOptions {
  /** The scene of a simulated cabinet (its shelves are the planogram when none is configured). */
  readonly scene: Pick<SimulatedScene, "current">;
  /** The cabinet's cameras (its own and those it receives): every slot must be seen by one. */
  readonly cameras: readonly string[];
  /** Log sink. */
  readonly log: AgentLog;
}

/** The agent's recognition: the model serving, if one loaded. */
export class AgentRecognition {
  readonly #config: Pick<AgentConfig, "recognition" | "modelVersion">;
  readonly #options: AgentRecognitionOptions;
  #recognition: DeviceRecognition | undefined;

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

  /** Loads the model in `dir`, or (running) swaps to it; a refused model leaves the old one. */
  async use(dir: string): Promise<void> {
    if (this.#recognition) {
      await this.#recognition.useModelDir(dir);
    } else {
      const c = this.#config.recognition;
      try {
        this.#recognition = await DeviceRecognition.start(dir, {
          planogram: await this.#planogram(),
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
    }
    this.#config.modelVersion = this.#recognition.modelVersion.split(" ")[1] ?? null;
    this.#options.log("info", "recognition model serving", {
      model: this.#recognition.modelVersion,
    });
  }

  async #planogram(): Promise<Planogram | (() => Planogram)> {
    const file = this.#config.recognition.planogram;
    if (!file) {
      // A simulated cabinet: its scene's shelves, as an installer would calibrate them.
      return () => simulatedPlanogram(this.#options.scene.current.scenario);
    }
    const parsed = PlanogramSchema.safeParse(JSON.parse(await Deno.readTextFile(file)));
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new ConfigError(file, [`${file}: ${issue.path.join(".")}: ${issue.message}`]);
    }
    return parsed.data;
  }
}
