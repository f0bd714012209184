/**
 * Which installed model serves and which runs beside it as a candidate (shadow evaluation): the
 * updater records each as it applies it (`models.json` in the update folder, written aside and
 * renamed), so an agent that restarts serves the model it was updated to, and runs the candidate
 * again, instead of the one its configuration names.
 *
 * @example
 * ```ts
 * import { ModelSlots } from "./model_slots.ts";
 *
 * const models = new ModelSlots("/var/lib/vendstream/ota");
 * const { live, candidate } = await models.read();
 * console.log(live?.dir, candidate?.version);
 * ```
 *
 * @module
 */

/** An installed model: its component, version and folder (`model.json` and its ONNX file). */
export interface InstalledModel {
  readonly component: string;
  readonly version: string;
  readonly dir: string;
}

/** The models recorded: the one serving, and the candidate beside it, if any. */
export interface ModelRoles {
  readonly live?: InstalledModel;
  readonly candidate?: InstalledModel;
}

/** The record of the models serving, in an update folder. */
export class ModelSlots {
  readonly #file: string;

  /** The record in `dir` (the update folder). */
  constructor(dir: string) {
    this.#file = `${dir}/models.json`;
  }

  /** The models recorded (none before the first model update). */
  async read(): Promise<ModelRoles> {
    try {
      return JSON.parse(await Deno.readTextFile(this.#file)) as ModelRoles;
    } catch (e) {
      // Nothing recorded yet. Anything else (never half-written: written aside and renamed) fails.
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      return {};
    }
  }

  /** `model` serves from now on; a candidate of the same version (promoted) is no more. */
  async setLive(model: InstalledModel): Promise<void> {
    const { candidate } = await this.read();
    const promoted = candidate?.component === model.component &&
      candidate.version === model.version;
    await this.#write({ live: model, ...(candidate && !promoted ? { candidate } : {}) });
  }

  /** `model` runs beside the one serving from now on (undefined: no candidate). */
  async setCandidate(model: InstalledModel | undefined): Promise<void> {
    const { live } = await this.read();
    await this.#write({ ...(live ? { live } : {}), ...(model ? { candidate: model } : {}) });
  }

  async #write(roles: ModelRoles): Promise<void> {
    await Deno.writeTextFile(`${this.#file}.tmp`, JSON.stringify(roles));
    await Deno.rename(`${this.#file}.tmp`, this.#file);
  }
}
