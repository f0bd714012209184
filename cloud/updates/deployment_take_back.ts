/**
 * Taking a cancelled or aborted deployment back from the devices that have it but have not
 * started it: their desired shadow loses the deployment, then their entry says cancelled. In a
 * supercluster each region's instances take it back from their region's devices.
 *
 * @module
 */
import type { KV } from "@nats-io/kv";
import { DesiredShadow, isRevisionConflict } from "../fleet/mod.ts";
import type { Deployment, DeploymentServiceOptions, DeviceEntry } from "./deployment_model.ts";
import type { DeploymentView } from "./deployment_view.ts";

/** What taking a deployment back needs of the service's options. */
export type DeploymentTakeBackOptions = Pick<
  DeploymentServiceOptions,
  "region" | "regional" | "devices" | "now" | "logger"
>;

/** Takes ended deployments back from the devices still queued; remembers devices not found. */
export class DeploymentTakeBack {
  readonly #view: DeploymentView;
  readonly #devices: KV;
  readonly #desired: DesiredShadow;
  readonly #o: DeploymentTakeBackOptions;
  /** Per ended deployment, claimed devices found without an entry when taking it back. */
  readonly #noEntry = new Map<string, Set<string>>();

  /** Over the `deployment_devices` and `shadow` buckets, noting what it writes in `view`. */
  constructor(
    view: DeploymentView,
    kv: { devices: KV; shadow: KV },
    options: DeploymentTakeBackOptions,
  ) {
    this.#view = view;
    this.#devices = kv.devices;
    this.#desired = new DesiredShadow(kv.shadow, { now: () => this.#now() });
    this.#o = options;
  }

  #now(): number {
    return (this.#o.now ?? Date.now)();
  }

  /**
   * Takes the deployment back from the devices that have it but have not started it: those this
   * instance can reach (in a supercluster, its region's; the other regions' instances do theirs
   * when they see the deployment ended).
   */
  async cancelQueued(d: Deployment, reason: string | null): Promise<void> {
    // Which devices were claimed is in the deployment itself (each region claims its devices in
    // order), so a view that lags (a watch of a mirror, under load) cannot hide one: those the
    // view holds queued, or does not hold at all, are read from the bucket. Those it holds in
    // another status are left to report, and one read found without an entry is not read again
    // (it shows up in the view if it is written later).
    // Those the view holds queued are read whatever the deployment says was claimed.
    const view = this.#view.get(d.id);
    const unread = this.#noEntry.get(d.id) ?? new Set<string>();
    const mine = this.#regionDevices();
    const candidates = new Set(
      this.#claimedHere(d).filter((deviceId) => {
        const v = view?.get(deviceId);
        return v ? v.status === "queued" : !unread.has(deviceId);
      }),
    );
    for (const [deviceId, v] of view ?? []) {
      if (v.status === "queued" && (!mine || mine.has(deviceId))) candidates.add(deviceId);
    }
    for (const deviceId of candidates) {
      const key = `${d.id}.${deviceId}`;
      const e = await this.#devices.get(key);
      const entry = e?.operation === "PUT" ? e.json<DeviceEntry>() : undefined;
      if (!entry) {
        unread.add(deviceId);
        this.#noEntry.set(d.id, unread);
        continue;
      }
      this.#view.see(d.id, deviceId, entry.status, e!.revision);
      if (entry.status !== "queued") continue;
      // The desired shadow first (over concurrent changes to it), then the entry, over the one
      // read: once the entry says cancelled, the device's shadow no longer has the deployment;
      // a device that started meanwhile (its progress moved the entry on) is left to report.
      await this.#clearDesired(deviceId, d.id);
      const next: DeviceEntry = {
        ...entry,
        status: "cancelled",
        ...(reason ? { reason } : {}),
        at: this.#now(),
      };
      try {
        const rev = await this.#devices.update(key, JSON.stringify(next), e!.revision);
        this.#view.see(d.id, deviceId, "cancelled", rev);
      } catch (err) {
        if (!isRevisionConflict(err)) throw err;
        this.#o.logger?.log("info", "a cancelled deployment's device moved on meanwhile", {
          deployment: d.id,
          device: deviceId,
        });
      }
    }
  }

  /**
   * The devices of `d` this instance started or may have (in a supercluster, the first ones of
   * its region that the region has claimed; else every claimed one).
   */
  #claimedHere(d: Deployment): readonly string[] {
    const mine = this.#regionDevices();
    if (!mine) return d.devices.slice(0, d.assigned);
    const claimed = d.assignedIn?.[this.#o.region ?? ""] ?? 0;
    return d.devices.filter((id) => mine.has(id)).slice(0, claimed);
  }

  /** In a supercluster, the devices of this instance's region (their shadows are its own). */
  #regionDevices(): Set<string> | undefined {
    if (this.#o.regional !== true) return undefined;
    return new Set(
      Array.from(this.#o.devices()).filter((x) => x.region === this.#o.region).map((x) => x.id),
    );
  }

  /**
   * Takes deployment `deploymentId` out of the device's desired shadow (if it is still there),
   * over whatever else changes it meanwhile (an operator's edit, another deployment).
   */
  async #clearDesired(deviceId: string, deploymentId: string): Promise<void> {
    await this.#desired.change(deviceId, (current) => {
      if (current?.state.deployment?.deploymentId !== deploymentId) return undefined;
      const { deployment: _, ...rest } = current.state;
      return rest;
    }, { updatedBy: `deployment ${deploymentId} cancelled` });
  }
}
