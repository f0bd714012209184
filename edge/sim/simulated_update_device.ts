/**
 * A simulated device for rollouts (a simulation, named as such): no cameras and no door, just
 * the real {@link Updater} watching the device's desired shadow and reporting its progress and
 * installed components, as a full agent does. A thousand of them fit in one process, which is
 * how the tests and `./vend bench ota` roll deployments out to a fleet.
 *
 * @example
 * ```ts
 * import { connect } from "@nats-io/transport-node";
 * import { SimulatedUpdateDevice } from "./simulated_update_device.ts";
 *
 * const nc = await connect({ servers: "127.0.0.1:4222" });
 * await using dev = await SimulatedUpdateDevice.start(nc, {
 *   deviceId: "sim-1-a", dir: "/tmp/sim-1", trustedKeys: [],
 * });
 * ```
 *
 * @module
 */
import { jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import {
  bucketIn,
  buckets,
  type ComponentRecipe,
  deploymentEvent,
  newEnvelope,
  parseShadow,
  shadow,
  shadowKey,
  subjects,
  type TrustedKey,
} from "../../protocol/mod.ts";
import { type ChunkStore, OtaSlots, Updater } from "../updates/mod.ts";

/** Options of {@link SimulatedUpdateDevice.start}. */
export interface SimulatedUpdateDeviceOptions {
  readonly deviceId: string;
  readonly region?: string;
  /** The device's update folder. */
  readonly dir: string;
  readonly trustedKeys: readonly TrustedKey[];
  /** Agent version it reports. Default `0.1.0`. */
  readonly agentVersion?: string;
  /** Refuses some versions at install (a model that does not load on this device). */
  readonly refuse?: (recipe: ComponentRecipe) => string | undefined;
  /** The device's chunk store. Default files in `<dir>/chunks`. */
  readonly chunks?: ChunkStore;
  /**
   * Deletes a hot component's files once applied (the simulation has no use for them; saves
   * disk when a thousand devices install a large model). Default false.
   */
  readonly discardInstalled?: boolean;
  /** Log sink (the updater's, and progress that could not be published). Default: none. */
  readonly log?: (
    level: "info" | "warn" | "error",
    msg: string,
    f?: Record<string, unknown>,
  ) => void;
}

/** A simulated device that carries out deployments with the real updater. */
export class SimulatedUpdateDevice implements AsyncDisposable {
  readonly deviceId: string;
  readonly updater: Updater;
  readonly #stop = new AbortController();
  readonly #done: Promise<void>;

  private constructor(
    deviceId: string,
    updater: Updater,
    done: (s: AbortSignal) => Promise<void>,
    log: SimulatedUpdateDeviceOptions["log"],
  ) {
    this.deviceId = deviceId;
    this.updater = updater;
    const signal = this.#stop.signal;
    this.#done = done(signal).catch((e) => {
      // Stopped: what failed on the way out (a report over a closing connection) is no news.
      if (signal.aborted) return;
      log?.("error", "the simulated device stopped watching its shadow", {
        deviceId,
        error: String(e),
      });
    });
  }

  /** Starts watching the device's desired shadow. */
  static async start(
    nc: NatsConnection,
    options: SimulatedUpdateDeviceOptions,
  ): Promise<SimulatedUpdateDevice> {
    const region = options.region ?? "local";
    const address = { region, deviceId: options.deviceId };
    const slots = await OtaSlots.open(options.dir);
    const js = jetstream(nc);
    const kv = await new Kvm(nc).create(bucketIn(buckets.shadow, region), { history: 5 });
    const updater = new Updater({
      slots,
      deviceId: options.deviceId,
      agentVersion: options.agentVersion ?? "0.1.0",
      agentArgs: [],
      trustedKeys: options.trustedKeys,
      supervised: false,
      ...(options.chunks ? { chunks: options.chunks } : {}),
      ...(options.log ? { log: options.log } : {}),
      progress: (step) => {
        const env = newEnvelope();
        js.publish(
          subjects.updateProgress(address),
          deploymentEvent.encode({
            ...env,
            deviceId: options.deviceId,
            type: "update_progress",
            ...step,
          }),
          { msgID: env.id },
        ).catch((e) =>
          // A simulated device has no outbox: a progress event not acknowledged is lost, said.
          options.log?.("warn", "update progress not published", {
            deviceId: options.deviceId,
            phase: step.phase,
            error: String(e),
          })
        );
      },
      applyHot: async (recipe, files) => {
        const why = options.refuse?.(recipe);
        if (why) throw new Error(why);
        if (options.discardInstalled) {
          for (const path of Object.values(files)) await Deno.truncate(path, 0);
        }
      },
    });
    const report = async () => {
      await kv.put(
        shadowKey(options.deviceId, "reported"),
        shadow.encode({
          ...newEnvelope(),
          deviceId: options.deviceId,
          kind: "reported",
          state: { components: await updater.installed() },
          applied: { desiredVersion: 0, ok: true, errors: [] },
        }),
      );
    };
    await report();
    return new SimulatedUpdateDevice(options.deviceId, updater, async (signal) => {
      const watcher = await kv.watch({ key: shadowKey(options.deviceId, "desired") });
      signal.addEventListener("abort", () => watcher.stop(), { once: true });
      for await (const e of watcher) {
        if (e.operation !== "PUT") continue;
        const d = parseShadow(e.value);
        if (!d.ok || d.value.kind !== "desired" || !d.value.state.deployment) continue;
        await updater.handle(nc, d.value.state.deployment, signal);
        await report();
      }
    }, options.log);
  }

  /** Stops watching. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.#stop.abort();
    await this.#done; // never rejects: a failure was logged when it came
  }
}
