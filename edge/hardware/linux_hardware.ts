/**
 * Hardware on a Linux board through the GPIO character device, driven by the gpiod command-line
 * tools (Debian package `gpiod`): `gpioset` holds the lock and LED lines, `gpiomon` watches the
 * door sensor line. See README's "Device hardware" section for wiring and permissions.
 *
 * @module
 */
import type { DoorLock, DoorSensor, DoorState, Hardware, LedColor, StatusLed } from "./hardware.ts";

/** GPIO wiring of a device. */
export interface GpioWiring {
  /** GPIO chip, e.g. `gpiochip0`. */
  readonly chip: string;
  /** Line driving the lock relay. */
  readonly lockLine: number;
  /** Line of the door sensor (1 = open). */
  readonly doorLine: number;
  /** Line of a single-colour status LED, if any. */
  readonly ledLine?: number | undefined;
  /** Level of `lockLine` that releases the lock. */
  readonly unlockLevel: 0 | 1;
}

/** Runs a command; returns its stdout. Replaceable for tests. */
export type Runner = (cmd: string, args: string[]) => Promise<string>;

const run: Runner = async (cmd, args) => {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
  return new TextDecoder().decode(out.stdout);
};

/** The gpiod command lines for `wiring`, so they can be checked without a board. */
export function gpioCommands(wiring: GpioWiring): {
  setLock(locked: boolean): [string, string[]];
  readDoor(): [string, string[]];
  watchDoor(): [string, string[]];
  setLed(on: boolean): [string, string[]] | undefined;
} {
  const level = (locked: boolean) => (locked ? 1 - wiring.unlockLevel : wiring.unlockLevel);
  return {
    setLock: (locked) => ["gpioset", [wiring.chip, `${wiring.lockLine}=${level(locked)}`]],
    readDoor: () => ["gpioget", [wiring.chip, String(wiring.doorLine)]],
    watchDoor: () => ["gpiomon", ["--format=%e", wiring.chip, String(wiring.doorLine)]],
    setLed: (
      on,
    ) => (wiring.ledLine === undefined
      ? undefined
      : ["gpioset", [wiring.chip, `${wiring.ledLine}=${on ? 1 : 0}`]]),
  };
}

/** Options of {@link LinuxHardware}. */
export interface LinuxHardwareOptions {
  /** Log sink (a lock that fails outside a caller's call). Default: JSON lines on stderr. */
  readonly log?: (
    level: "info" | "warn" | "error",
    msg: string,
    f?: Record<string, unknown>,
  ) => void;
}

/** GPIO hardware through the gpiod tools. */
export class LinuxHardware implements Hardware {
  readonly lock: DoorLock;
  readonly door: DoorSensor;
  readonly led: StatusLed;
  #locked = true;
  #door: DoorState = "closed";
  #color: LedColor = "off";
  #relock: ReturnType<typeof setTimeout> | undefined;
  readonly #log: NonNullable<LinuxHardwareOptions["log"]>;

  /** Wraps the wiring; call {@link LinuxHardware.open} to read the initial state. */
  constructor(wiring: GpioWiring, runner: Runner = run, options: LinuxHardwareOptions = {}) {
    this.#log = options.log ??
      ((level, msg, f) =>
        console.error(JSON.stringify({ ts: new Date().toISOString(), level, msg, ...f })));
    const cmds = gpioCommands(wiring);
    // deno-lint-ignore no-this-alias -- the getters of the object literals below need the instance
    const hw = this;
    const exec = ([cmd, args]: [string, string[]]) => runner(cmd, args);
    this.lock = {
      async unlock(ms) {
        await exec(cmds.setLock(false));
        hw.#locked = false;
        clearTimeout(hw.#relock);
        hw.#relock = setTimeout(() => {
          if (hw.#door !== "closed") return; // it locks when the door closes
          // Nobody awaits the relock: a failure is logged (the door stays unlocked, `locked`
          // says so), never an unhandled rejection.
          hw.lock.lock().catch((e) =>
            hw.#log("error", "cannot lock the door again after an unlock", { error: String(e) })
          );
        }, ms);
      },
      async lock() {
        clearTimeout(hw.#relock);
        await exec(cmds.setLock(true));
        hw.#locked = true;
      },
      get locked() {
        return hw.#locked;
      },
    };
    this.door = {
      get state() {
        return hw.#door;
      },
      async *changes(signal) {
        const [cmd, args] = cmds.watchDoor();
        const child = new Deno.Command(cmd, { args, stdout: "piped", stderr: "null" }).spawn();
        signal.addEventListener("abort", () => child.kill(), { once: true });
        let buffer = "";
        for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
          buffer += chunk;
          for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n")) {
            const event = buffer.slice(0, nl).trim();
            buffer = buffer.slice(nl + 1);
            const state: DoorState = event === "1" ? "open" : "closed"; // 1 = rising edge
            if (state === hw.#door) continue;
            hw.#door = state;
            if (state === "closed") await hw.lock.lock();
            yield state;
          }
        }
      },
    };
    this.led = {
      async set(color) {
        const c = cmds.setLed(color !== "off");
        if (c) await exec(c);
        hw.#color = color;
      },
      get color() {
        return hw.#color;
      },
    };
    this.open = async () => {
      await exec(cmds.setLock(true));
      this.#door = (await exec(cmds.readDoor())).trim() === "1" ? "open" : "closed";
    };
  }

  /** Locks and reads the door's state. */
  readonly open: () => Promise<void>;

  async [Symbol.asyncDispose](): Promise<void> {
    clearTimeout(this.#relock);
    // The stop goes on; the lock not holding is logged (`open()` locks it at the next start).
    await this.lock.lock().catch((e) =>
      this.#log("error", "cannot lock the door at the stop", { error: String(e) })
    );
  }
}
