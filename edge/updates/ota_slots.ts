/**
 * A/B slots of the device program and the update state the supervisor and the agent share, on
 * disk under `<dataDir>/ota`. There are always two slots: the active one holds a version known
 * to work, the other receives an update. A switch is one atomic rename of `state.json` (written
 * aside, fsynced, renamed, the folder fsynced): whatever instant the power goes, the state on
 * disk is the old one or the new one, never a mix, and the old slot is untouched until the new
 * version has proven healthy.
 *
 * @example
 * ```ts
 * import { OtaSlots } from "./ota_slots.ts";
 *
 * const slots = await OtaSlots.open("/var/lib/vendstream/ota");
 * const state = await slots.read();
 * console.log(state.active, state.slots[state.active]?.version);
 * ```
 *
 * @module
 */

/** A slot name. */
export type SlotName = "a" | "b";

/** What a slot holds. */
export interface SlotInfo {
  /** Version installed in it. */
  readonly version: string;
  /** Program to start, relative to the slot folder, and its arguments. */
  readonly command: string;
  readonly args: readonly string[];
}

/** A version on trial: switched to, not yet proven healthy. */
export interface Trial {
  readonly slot: SlotName;
  readonly version: string;
  readonly deploymentId: string | null;
  /** Starts of the trial version so far. */
  readonly boots: number;
  readonly maxBoots: number;
  readonly healthWindowMs: number;
  /** When the current boot began (Unix ms). */
  readonly bootAt: number;
}

/** How the last update ended, for the agent to report. */
export interface UpdateOutcome {
  readonly version: string;
  readonly deploymentId: string | null;
  readonly status: "healthy" | "rolled_back";
  readonly reason: string | null;
  readonly at: number;
  /** Whether the agent has reported it. */
  readonly reported: boolean;
}

/** The update state on disk. */
export interface OtaState {
  readonly active: SlotName;
  readonly slots: Readonly<Partial<Record<SlotName, SlotInfo>>>;
  readonly trial: Trial | null;
  readonly last: UpdateOutcome | null;
}

/** The other slot. */
export function otherSlot(s: SlotName): SlotName {
  return s === "a" ? "b" : "a";
}

/** Whether `e` says the file system cannot fsync a folder (EINVAL, ENOTSUP). */
function cannotSyncFolder(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code;
  return e instanceof Deno.errors.NotSupported || code === "EINVAL" || code === "ENOTSUP" ||
    code === "EOPNOTSUPP";
}

/** The update state and slot folders of a device. */
export class OtaSlots {
  /** The `ota` folder. */
  readonly dir: string;

  private constructor(dir: string) {
    this.dir = dir;
  }

  /** Opens (creating) the folder. */
  static async open(dir: string): Promise<OtaSlots> {
    await Deno.mkdir(`${dir}/slots/a`, { recursive: true });
    await Deno.mkdir(`${dir}/slots/b`, { recursive: true });
    return new OtaSlots(dir);
  }

  /** Folder of a slot. */
  slotDir(slot: SlotName): string {
    return `${this.dir}/slots/${slot}`;
  }

  /** Where the running version says it is healthy. */
  get healthFile(): string {
    return `${this.dir}/healthy.json`;
  }

  /** The state; a device never updated has slot `a` active and empty. */
  async read(): Promise<OtaState> {
    try {
      return JSON.parse(await Deno.readTextFile(`${this.dir}/state.json`)) as OtaState;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        return { active: "a", slots: {}, trial: null, last: null };
      }
      throw e;
    }
  }

  /** Replaces the state atomically (write aside, fsync, rename, fsync the folder). */
  async write(state: OtaState): Promise<void> {
    const tmp = `${this.dir}/state.json.tmp`;
    const f = await Deno.open(tmp, { write: true, create: true, truncate: true });
    try {
      await f.write(new TextEncoder().encode(JSON.stringify(state, null, 2)));
      await f.sync();
    } finally {
      f.close();
    }
    await Deno.rename(tmp, `${this.dir}/state.json`);
    const d = await Deno.open(this.dir, { read: true });
    try {
      await d.sync().catch((e) => {
        // A file system that cannot sync a folder (the rename is then as durable as it gets
        // there); any other failure (I/O) means the new state may not survive a power cut.
        if (!cannotSyncFolder(e)) throw e;
      });
    } finally {
      d.close();
    }
  }

  /** Changes the state with `fn` (read, change, write). */
  async update(fn: (s: OtaState) => OtaState): Promise<OtaState> {
    const next = fn(await this.read());
    await this.write(next);
    return next;
  }

  /** Empties the inactive slot for an install; returns its folder. */
  async prepareInactive(): Promise<{ slot: SlotName; dir: string }> {
    const state = await this.read();
    if (state.trial) {
      throw new Error(`Cannot install: version ${state.trial.version} is still on trial`);
    }
    const slot = otherSlot(state.active);
    const dir = this.slotDir(slot);
    await Deno.remove(dir, { recursive: true }).catch((e) => {
      // Already gone; a slot that cannot be emptied must not be installed over.
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    });
    await Deno.mkdir(dir, { recursive: true });
    // The slot no longer holds what the state said: forget it before anything lands there.
    if (state.slots[slot]) {
      await this.write({ ...state, slots: { ...state.slots, [slot]: undefined } });
    }
    return { slot, dir };
  }

  /**
   * Switches to the version installed in the inactive slot, on trial: the supervisor starts it
   * next and rolls back unless it reports healthy in time.
   */
  async switchTo(
    info: SlotInfo,
    trial: { deploymentId: string | null; maxBoots: number; healthWindowMs: number },
  ): Promise<OtaState> {
    return await this.update((s) => {
      const slot = otherSlot(s.active);
      return {
        active: slot,
        slots: { ...s.slots, [slot]: info },
        trial: {
          slot,
          version: info.version,
          deploymentId: trial.deploymentId,
          boots: 0,
          maxBoots: trial.maxBoots,
          healthWindowMs: trial.healthWindowMs,
          bootAt: 0,
        },
        last: s.last,
      };
    });
  }
}
