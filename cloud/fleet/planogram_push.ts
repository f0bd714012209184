/**
 * Takes each machine's planogram to the machine: every cloud instance writes the current
 * version into the desired shadow of each primary device homed in its region (the registered
 * primary, or, for a machine not registered, each device heard from), when the device's desired
 * state does not carry that version yet. It runs when a planogram, a registration or a device's
 * status changes, and every few seconds for what could not be written.
 *
 * @example
 * ```ts
 * import { PlanogramPush } from "./planogram_push.ts";
 * declare const nc: import("@nats-io/nats-core").NatsConnection;
 * declare const options: import("./planogram_push.ts").PlanogramPushOptions;
 *
 * await using _push = await PlanogramPush.start(nc, options);
 * ```
 *
 * @module
 */
import type { NatsConnection } from "@nats-io/nats-core";
import { buckets } from "../../protocol/mod.ts";
import { openKv } from "../nats/mod.ts";
import type { Logger } from "../../runtime/mod.ts";
import { DesiredShadow } from "./desired_shadow.ts";
import type { FleetState } from "./fleet_state.ts";
import type { PlanogramBook, StoredPlanogram } from "./planogram_book.ts";

/** Options of {@link PlanogramPush.start}. */
export interface PlanogramPushOptions {
  /** The instance's region: its devices' shadows are written. */
  readonly region: string;
  /** The machines' planograms. */
  readonly book: PlanogramBook;
  /** The registry and statuses (which devices are each machine's, and where). */
  readonly state: FleetState;
  /** Where failed writes are logged. */
  readonly logger: Logger;
  /** How often what could not be written is tried again, ms. Default 5000. */
  readonly retryEveryMs?: number;
}

/** Writes machines' planograms into their devices' desired shadows; see the module documentation. */
export class PlanogramPush implements AsyncDisposable {
  readonly #options: PlanogramPushOptions;
  readonly #desired: DesiredShadow;
  /** The version each device's desired state is known to carry. */
  readonly #sent = new Map<string, number>();
  readonly #stops: Array<() => void> = [];
  #running: Promise<void> = Promise.resolve();
  #again = false;
  #closed = false;

  private constructor(desired: DesiredShadow, options: PlanogramPushOptions) {
    this.#desired = desired;
    this.#options = options;
  }

  /** Starts pushing; resolves after the first round. */
  static async start(nc: NatsConnection, options: PlanogramPushOptions): Promise<PlanogramPush> {
    const kv = await openKv(nc, buckets.shadow, { history: 5 });
    const push = new PlanogramPush(new DesiredShadow(kv), options);
    const poke = () => push.#poke();
    const { book, state } = options;
    push.#stops.push(book.replica.onChange(poke), state.devices.onChange(poke));
    // A device appearing (its first status) or coming back online.
    push.#stops.push(state.statuses.onChange((id, e) => {
      if (e && !push.#sent.has(id)) poke();
    }));
    const timer = setInterval(poke, options.retryEveryMs ?? 5000);
    push.#stops.push(() => clearInterval(timer));
    poke();
    await push.#running;
    return push;
  }

  /** Runs a round, or another after the one running. */
  #poke(): void {
    if (this.#closed) return;
    if (this.#again) return;
    this.#again = true;
    this.#running = this.#running.then(async () => {
      this.#again = false;
      if (!this.#closed) await this.#round();
    }).catch((e) =>
      // Unexpected (a failure outside a device's write): the next round starts afresh.
      this.#options.logger.log("error", "planogram round failed", { error: String(e) })
    );
  }

  /** The devices of this region that decide `machineId`'s carts. */
  #targets(machineId: string): string[] {
    const { state, region } = this.#options;
    const registered = [...state.devices.entries()].filter(([, e]) =>
      e.value.machineId === machineId && e.value.role === "primary"
    );
    if (registered.length) {
      return registered.filter(([, e]) => e.value.region === region).map(([id]) => id);
    }
    return [...state.statuses.entries()]
      .filter(([, e]) => e.value.machineId === machineId && e.value.region === region)
      .map(([id]) => id);
  }

  async #round(): Promise<void> {
    for (const [machineId, { value }] of this.#options.book.replica.entries()) {
      for (const deviceId of this.#targets(machineId)) {
        if (this.#sent.get(deviceId) === value.version) continue;
        try {
          await this.#send(deviceId, value);
          this.#sent.set(deviceId, value.version);
        } catch (e) {
          // Tried again in the next round.
          this.#options.logger.log("warn", "planogram not sent to its device", {
            machineId,
            deviceId,
            version: value.version,
            error: String(e),
          });
        }
      }
    }
  }

  async #send(deviceId: string, planogram: StoredPlanogram): Promise<void> {
    await this.#desired.change(deviceId, (current) => {
      const carried = current?.state.planogram?.version;
      // Already there, or a newer one written by another instance.
      if (carried !== undefined && carried >= planogram.version) return undefined;
      return {
        ...current?.state,
        planogram: {
          version: planogram.version,
          slots: planogram.slots.map((s) => ({ ...s })),
        },
      };
    }, { updatedBy: `planogram of ${planogram.machineId}` });
  }

  /** Stops pushing (a round under way finishes). */
  async [Symbol.asyncDispose](): Promise<void> {
    this.#closed = true;
    for (const stop of this.#stops) stop();
    await this.#running;
  }
}
