/**
 * The device statuses of every deployment, kept from a watch of `deployment_devices` (a view of
 * what NATS holds, shared by every instance): ticks and counts read it instead of one KV entry
 * per device. Writers note what they wrote with {@link DeploymentView.see}, so the view never
 * waits for its own writes to come back through the watch.
 *
 * @module
 */
import type { KV } from "@nats-io/kv";
import type { Logger } from "../../runtime/mod.ts";
import type { DeviceDeploymentStatus, DeviceEntry } from "./deployment_model.ts";

/** A device's status in the view, with the revision of the entry it was read from. */
export interface ViewedStatus {
  readonly status: DeviceDeploymentStatus;
  readonly rev: number;
}

/** The device statuses of every deployment, followed from the `deployment_devices` bucket. */
export class DeploymentView implements AsyncDisposable {
  readonly #view = new Map<string, Map<string, ViewedStatus>>();
  readonly #listeners = new Set<(deploymentId: string) => void>();
  readonly #devices: KV;
  readonly #logger: Logger | undefined;
  #watcher: { stop(): void } | undefined;
  #watching: Promise<void> = Promise.resolve();

  private constructor(devices: KV, logger: Logger | undefined) {
    this.#devices = devices;
    this.#logger = logger;
  }

  /** Loads the device statuses of `devices` (the `deployment_devices` bucket) and follows them. */
  static async open(
    devices: KV,
    options: { logger?: Logger | undefined } = {},
  ): Promise<DeploymentView> {
    const view = new DeploymentView(devices, options.logger);
    await view.#watch();
    return view;
  }

  /** Loads the device statuses and follows their changes. */
  async #watch(): Promise<void> {
    const empty = (await this.#devices.status()).values === 0;
    const watcher = await this.#devices.watch();
    this.#watcher = watcher;
    let ready!: () => void;
    const loaded = new Promise<void>((r) => ready = r);
    if (empty) ready();
    this.#watching = (async () => {
      for await (const e of watcher) {
        const dot = e.key.indexOf(".");
        const id = e.key.slice(0, dot);
        const deviceId = e.key.slice(dot + 1);
        if (e.operation === "PUT") {
          let entry: DeviceEntry | null = null;
          try {
            entry = e.json<DeviceEntry>();
          } catch (err) {
            // Not JSON: not an entry this service wrote, so nothing to follow.
            if (!(err instanceof SyntaxError)) throw err;
          }
          try {
            if (entry !== null) this.see(id, deviceId, entry.status, e.revision);
          } catch (err) {
            // A listener that failed must not stop the view from following the devices.
            this.#logger?.log("warn", "a deployment change listener failed", {
              deployment: id,
              device: deviceId,
              error: String(err),
            });
          }
        } else this.#view.get(id)?.delete(deviceId);
        if (e.delta === 0) ready();
      }
    })().finally(ready);
    await loaded;
  }

  /** The statuses of deployment `id`'s devices the view holds, by device, if any. */
  get(id: string): ReadonlyMap<string, ViewedStatus> | undefined {
    return this.#view.get(id);
  }

  /** Notes a status unless the view already holds a newer revision (another instance's). */
  see(id: string, deviceId: string, status: DeviceDeploymentStatus, rev: number): void {
    let devices = this.#view.get(id);
    if (!devices) this.#view.set(id, devices = new Map());
    if ((devices.get(deviceId)?.rev ?? 0) < rev) {
      devices.set(deviceId, { status, rev });
      for (const listener of this.#listeners) listener(id);
    }
  }

  /** Calls `listener` with a deployment's id whenever one of its devices changes status. */
  onChange(listener: (deploymentId: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Stops following the device statuses. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.#watcher?.stop();
    await this.#watching;
  }
}
