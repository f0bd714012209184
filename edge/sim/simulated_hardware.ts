/**
 * Simulated hardware, named as such: a lock, a door and an LED with no cabinet behind them, for
 * the demo and the tests.
 *
 * @module
 */
import type {
  DoorLock,
  DoorSensor,
  DoorState,
  Hardware,
  LedColor,
  StatusLed,
} from "../hardware/mod.ts";

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
