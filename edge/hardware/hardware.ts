/**
 * The device's hardware behind small interfaces: the door lock, the door sensor and the status
 * LED. `LinuxHardware` (linux_hardware.ts) drives real GPIO lines through the gpiod tools;
 * edge/sim/'s `SimulatedHardware` is what the demo and the tests drive.
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
