/**
 * The device's hardware behind small interfaces: the door lock, the door sensor and the status
 * LED. {@link SimulatedHardware} is what the demo and the tests drive; `LinuxHardware`
 * (linux_hardware.ts) drives real GPIO lines through the gpiod tools.
 *
 * @module
 */

/** Door sensor reading. */
export type DoorState = "open" | "closed";

/** Colours of the status LED. */
export type LedColor = "off" | "green" | "amber" | "red" | "blue";

/** The electric door lock. */
export interface DoorLock {
  /** Releases the lock; it locks again after `ms` unless the door is open then (it locks when the door closes). */
  unlock(ms: number): Promise<void>;
  /** Locks now. */
  lock(): Promise<void>;
  /** Whether the lock holds. */
  readonly locked: boolean;
}

/** The door sensor. */
export interface DoorSensor {
  /** The current state. */
  readonly state: DoorState;
  /** Every change of state, until the signal aborts. */
  changes(signal: AbortSignal): AsyncIterable<DoorState>;
}

/** The status LED. */
export interface StatusLed {
  /** Shows a colour. */
  set(color: LedColor): Promise<void>;
  /** The colour shown. */
  readonly color: LedColor;
}

/** All of a device's hardware. */
export interface Hardware extends AsyncDisposable {
  /** The door lock (primary device only; a secondary's does nothing). */
  readonly lock: DoorLock;
  /** The door sensor. */
  readonly door: DoorSensor;
  /** The status LED. */
  readonly led: StatusLed;
}

/**
 * Simulated hardware: a lock, a door that a simulated shopper (or a test) opens and closes
 * with {@link SimulatedHardware.setDoor}, and an LED. Opening the door while locked counts as
 * forced.
 */
export class SimulatedHardware implements Hardware {
  #locked = true;
  #relock: ReturnType<typeof setTimeout> | undefined;
  #door: DoorState = "closed";
  #color: LedColor = "off";
  #listeners = new Set<(s: DoorState) => void>();
  /** Times the door was opened while locked. */
  forcedOpenings = 0;
  /** Durations of the unlocks received, ms. */
  readonly unlocks: number[] = [];
  readonly lock: DoorLock;
  readonly door: DoorSensor;
  readonly led: StatusLed;

  constructor() {
    // deno-lint-ignore no-this-alias -- the getters of the object literals below need the instance
    const hw = this;
    this.lock = {
      unlock: (ms) => {
        hw.#locked = false;
        hw.unlocks.push(ms);
        clearTimeout(hw.#relock);
        hw.#relock = setTimeout(() => {
          if (hw.#door === "closed") hw.#locked = true;
        }, ms);
        return Promise.resolve();
      },
      lock: () => {
        clearTimeout(hw.#relock);
        hw.#locked = true;
        return Promise.resolve();
      },
      get locked() {
        return hw.#locked;
      },
    };
    this.door = {
      get state() {
        return hw.#door;
      },
      changes: (signal) => hw.#changes(signal),
    };
    this.led = {
      set: (color) => {
        hw.#color = color;
        return Promise.resolve();
      },
      get color() {
        return hw.#color;
      },
    };
  }

  /** Opens or closes the door, as a shopper would. */
  setDoor(state: DoorState): void {
    if (state === this.#door) return;
    if (state === "open" && this.#locked) this.forcedOpenings++;
    this.#door = state;
    if (state === "closed") {
      clearTimeout(this.#relock);
      this.#locked = true;
    }
    for (const l of this.#listeners) l(state);
  }

  async *#changes(signal: AbortSignal): AsyncGenerator<DoorState> {
    const queue: DoorState[] = [];
    let wake: (() => void) | undefined;
    const listener = (s: DoorState) => {
      queue.push(s);
      wake?.();
    };
    this.#listeners.add(listener);
    const onAbort = () => wake?.();
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      while (!signal.aborted) {
        if (queue.length === 0) await new Promise<void>((r) => (wake = r));
        while (queue.length > 0) yield queue.shift()!;
      }
    } finally {
      this.#listeners.delete(listener);
      signal.removeEventListener("abort", onAbort);
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    clearTimeout(this.#relock);
    this.#listeners.clear();
    return Promise.resolve();
  }
}
