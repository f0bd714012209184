/**
 * Deployments: component versions rolled out to the devices a selector picks (groups, tags,
 * regions, ids), through each device's desired shadow (so a device that is offline gets it when
 * it comes back, one deployment per device at a time, and a newer one supersedes an older one).
 * The rollout policy sends canary devices first, then a rate of devices per minute that grows
 * by a factor while the success rate holds; past the failure threshold the deployment aborts
 * and the devices it already updated are rolled back to the versions they had. Deployments can
 * be paused, resumed and cancelled. Everything is in NATS KV (`deployments`,
 * `deployment_devices`); progress comes from the devices' `update_progress` events.
 *
 * @example
 * ```ts
 * import { connect } from "@nats-io/transport-node";
 * import { DeploymentService } from "./deployments.ts";
 *
 * const nc = await connect({ servers: "127.0.0.1:4222" });
 * const service = await DeploymentService.open(nc, { region: "local", devices: () => ["m001-a"] });
 * const d = await service.create({
 *   targets: [{ component: "detector", version: "1.2.0" }], selector: { devices: ["m001-a"] },
 * });
 * await service.tick();
 * console.log(d.id, (await service.get(d.id))?.counts);
 * ```
 *
 * @module
 */
import { isConsumerExists, isTransientNatsError, openKv } from "../nats/mod.ts";
import { AckPolicy, jetstream, type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import { Base64UrlPaddedCodec } from "@nats-io/obj";
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import {
  buckets,
  componentKey,
  type DeploymentEvent,
  filters,
  newEnvelope,
  newMessageId,
  objectStreamOf,
  parseDeploymentEvent,
  parseShadow,
  shadow,
  shadowKey,
  type ShadowState,
  signedManifest,
  streamName,
} from "../../protocol/mod.ts";
import { ComponentError } from "./component_registry.ts";
import { isRevisionConflict } from "../fleet/mod.ts";
import type { Logger } from "../../runtime/mod.ts";

/** What picks a deployment's devices; a device matching any listed item is in. */
export interface DeploymentSelector {
  readonly devices?: readonly string[];
  readonly groups?: readonly string[];
  readonly tags?: readonly string[];
  readonly regions?: readonly string[];
}

/** How a deployment proceeds. */
export interface RolloutPolicy {
  /** Devices updated first, alone. Default 1. */
  readonly canary: number;
  /** Devices started per minute after the canaries. Default 10. */
  readonly ratePerMinute: number;
  /** Factor the rate grows by each minute while the success rate holds. Default 2. */
  readonly growth: number;
  /** Share of finished devices that may fail before the deployment aborts. Default 0.1. */
  readonly failureThreshold: number;
}

/** A device as the selector sees it. */
export interface SelectableDevice {
  readonly id: string;
  readonly region: string;
  readonly tags: readonly string[];
  readonly groups: readonly string[];
}

/** Status of one device in a deployment. */
export type DeviceDeploymentStatus =
  | "queued"
  | "downloading"
  | "installing"
  | "healthy"
  | "failed"
  | "rolled_back"
  | "superseded"
  | "cancelled";

/** A deployment as stored. */
export interface Deployment {
  readonly id: string;
  readonly targets: readonly { readonly component: string; readonly version: string }[];
  readonly selector: DeploymentSelector;
  readonly policy: RolloutPolicy;
  readonly state: "running" | "paused" | "completed" | "aborted" | "cancelled";
  readonly devices: readonly string[];
  /** Devices assigned so far (in `devices` order; in a supercluster, the sum of `assignedIn`). */
  readonly assigned: number;
  /**
   * In a supercluster, each region's instances start their own region's devices: how many of
   * the region's devices (in `devices` order) are assigned, by region.
   */
  readonly assignedIn?: Readonly<Record<string, number>>;
  /** In a supercluster, when each region's canaries finished. */
  readonly canaryDoneAtIn?: Readonly<Record<string, number | null>>;
  readonly createdAt: number;
  readonly startedAt: number;
  /** When the canaries finished (the rate counts from here), or null. */
  readonly canaryDoneAt: number | null;
  readonly reason: string | null;
  /** For a rollback deployment, the one it undoes. */
  readonly rollbackOf: string | null;
}

/** Counts of a deployment's devices by status. */
export type DeploymentCounts = Record<DeviceDeploymentStatus | "unassigned", number>;

/** Options of {@link DeploymentService.open}. */
export interface DeploymentServiceOptions {
  readonly region: string;
  /**
   * Start only the devices of `region` (whose shadows are the region's own): true in a
   * supercluster, where each region's instances roll out their region's devices.
   */
  readonly regional?: boolean;
  /**
   * The stream the region's devices read artifacts from (its mirror of the artifacts store, in a
   * supercluster): a device starts only once it holds every chunk of the deployment's targets.
   * Default: the store itself.
   */
  readonly artifactsStream?: string;
  /** Reads the artifacts stream (given with `artifactsStream`). */
  readonly jsm?: JetStreamManager;
  /** The registered devices. */
  readonly devices: () => Iterable<SelectableDevice>;
  /** Clock, Unix ms. */
  readonly now?: () => number;
  /** Where dropped progress events are logged. */
  readonly logger?: Logger;
}

/** One device's part in a deployment. */
export interface DeviceEntry {
  status: DeviceDeploymentStatus;
  reason: string | null;
  /** Versions the device had before (for a rollback), by component. */
  previous: Record<string, string>;
  bytesDone: number;
  bytesTotal: number;
  bytesSaved: number;
  at: number;
}

/** How far along a device is: progress only ever moves a device forward. */
const STEP: Readonly<Record<DeviceDeploymentStatus, number>> = {
  queued: 0,
  downloading: 1,
  installing: 2,
  healthy: 3,
  failed: 3,
  rolled_back: 3,
  superseded: 3,
  cancelled: 3,
};

const FINAL = new Set<DeviceDeploymentStatus>([
  "healthy",
  "failed",
  "rolled_back",
  "superseded",
  "cancelled",
]);

/** Runs deployments. */
export class DeploymentService implements AsyncDisposable {
  readonly #deployments: KV;
  /**
   * Every deployment's device statuses, kept from a watch of `deployment_devices` (a view of
   * what NATS holds, shared by every instance): ticks and counts read it instead of one KV
   * entry per device.
   */
  readonly #view = new Map<string, Map<string, { status: DeviceDeploymentStatus; rev: number }>>();
  #watcher: { stop(): void } | undefined;
  readonly #listeners = new Set<(deploymentId: string) => void>();
  #watching: Promise<void> = Promise.resolve();
  readonly #devices: KV;
  readonly #shadow: KV;
  readonly #components: KV;
  readonly #o: DeploymentServiceOptions;
  /** Per ended deployment, claimed devices found without an entry when taking it back. */
  readonly #noEntry = new Map<string, Set<string>>();
  /** Deployments whose artifacts the region's stream was seen to hold. */
  readonly #mirrored = new Set<string>();

  private constructor(
    deployments: KV,
    devices: KV,
    shadowKv: KV,
    components: KV,
    options: DeploymentServiceOptions,
  ) {
    this.#deployments = deployments;
    this.#devices = devices;
    this.#shadow = shadowKv;
    this.#components = components;
    this.#o = options;
  }

  /** Opens the service's buckets. */
  static async open(
    nc: NatsConnection,
    options: DeploymentServiceOptions,
  ): Promise<DeploymentService> {
    const service = new DeploymentService(
      await openKv(nc, buckets.deployments, { history: 1 }),
      await openKv(nc, buckets.deploymentDevices, { history: 1 }),
      await openKv(nc, buckets.shadow, { history: 5 }),
      await openKv(nc, buckets.components, { history: 1 }),
      options,
    );
    await service.#watch();
    return service;
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
            if (entry !== null) this.#see(id, deviceId, entry.status, e.revision);
          } catch (err) {
            // A listener that failed must not stop the view from following the devices.
            this.#o.logger?.log("warn", "a deployment change listener failed", {
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

  /** Notes a status unless the view already holds a newer revision (another instance's). */
  #see(id: string, deviceId: string, status: DeviceDeploymentStatus, rev: number): void {
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

  /** The newest deployments (at most `limit`, default 50), newest first. */
  async list(options: { limit?: number } = {}): Promise<Deployment[]> {
    const out: Deployment[] = [];
    for await (const key of await this.#deployments.keys()) {
      const e = await this.#deployments.get(key);
      if (e?.operation === "PUT") out.push(e.json<Deployment>());
    }
    return out.sort((a, b) => b.createdAt - a.createdAt).slice(0, options.limit ?? 50);
  }

  /** A page of a deployment's devices with their part in it (unassigned ones as null). */
  async devicesOf(
    d: Deployment,
    options: { offset?: number; limit?: number } = {},
  ): Promise<Array<{ deviceId: string; entry: DeviceEntry | null }>> {
    const offset = options.offset ?? 0;
    const page = d.devices.slice(offset, offset + (options.limit ?? 50));
    return await Promise.all(page.map(async (deviceId) => ({
      deviceId,
      entry: (await this.device(d.id, deviceId)) ?? null,
    })));
  }

  /** Stops following the device statuses. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.#watcher?.stop();
    await this.#watching;
  }

  #now(): number {
    return (this.#o.now ?? Date.now)();
  }

  /**
   * Creates a deployment. Refused with {@link ComponentError} naming the field when a target
   * version is not published, the selector picks no device, or the policy is out of range;
   * nothing is created then.
   */
  async create(spec: {
    targets: readonly { component: string; version: string }[];
    selector: DeploymentSelector;
    policy?: Partial<RolloutPolicy>;
    id?: string;
    rollbackOf?: string;
  }): Promise<Deployment> {
    if (!Array.isArray(spec.targets) || spec.targets.length === 0 || spec.targets.length > 8) {
      throw new ComponentError("targets", "A deployment needs 1-8 targets");
    }
    for (const [i, t] of spec.targets.entries()) {
      let key: string;
      try {
        key = componentKey(t.component, t.version);
      } catch (e) {
        throw new ComponentError(`targets[${i}]`, (e as Error).message);
      }
      const e = await this.#components.get(key);
      if (!e || e.operation !== "PUT") {
        throw new ComponentError(
          `targets[${i}].version`,
          `${t.component} ${t.version} is not published`,
        );
      }
    }
    const policy: RolloutPolicy = {
      canary: spec.policy?.canary ?? 1,
      ratePerMinute: spec.policy?.ratePerMinute ?? 10,
      growth: spec.policy?.growth ?? 2,
      failureThreshold: spec.policy?.failureThreshold ?? 0.1,
    };
    const checks: Array<[keyof RolloutPolicy, number, number, boolean]> = [
      ["canary", 0, 1000, true],
      ["ratePerMinute", 1, 1_000_000, false],
      ["growth", 1, 100, false],
      ["failureThreshold", 0, 1, false],
    ];
    for (const [k, lo, hi, int] of checks) {
      const v = policy[k];
      if (typeof v !== "number" || !(v >= lo && v <= hi) || (int && !Number.isInteger(v))) {
        throw new ComponentError(`policy.${k}`, `policy.${k} must be ${lo}-${hi}, got ${v}`);
      }
    }
    const devices = this.#select(spec.selector);
    if (devices.length === 0) {
      throw new ComponentError("selector", "The selector picks no registered device");
    }
    const now = this.#now();
    const d: Deployment = {
      id: spec.id ?? `dep-${newMessageId(now)}`.slice(0, 64),
      targets: spec.targets.map((t) => ({ component: t.component, version: t.version })),
      selector: spec.selector,
      policy,
      state: "running",
      devices,
      assigned: 0,
      createdAt: now,
      startedAt: now,
      canaryDoneAt: policy.canary === 0 ? now : null,
      reason: null,
      rollbackOf: spec.rollbackOf ?? null,
    };
    await this.#deployments.create(d.id, JSON.stringify(d));
    return d;
  }

  /** A deployment. */
  async get(id: string): Promise<(Deployment & { counts: DeploymentCounts }) | undefined> {
    const e = await this.#deployments.get(id);
    if (!e || e.operation !== "PUT") return undefined;
    const d = e.json<Deployment>();
    // The view follows the device entries through a watch (in another region, of its mirror,
    // a little behind): devices the deployment counts as assigned that the view has not seen
    // yet, and, once it is completed, devices the view still has unfinished, are read from the
    // bucket, so the counts agree with the deployment's state.
    const view = this.#view.get(d.id);
    const missing = d.assignedIn !== undefined && this.#assignedDevices(d).length < d.assigned;
    const behind = d.devices.filter((x) => {
      const v = view?.get(x);
      return v ? d.state === "completed" && !FINAL.has(v.status) : missing;
    });
    await Promise.all(behind.map(async (deviceId) => {
      const r = await this.#devices.get(`${d.id}.${deviceId}`);
      if (r?.operation === "PUT") {
        this.#see(d.id, deviceId, r.json<DeviceEntry>().status, r.revision);
      }
    }));
    return { ...d, counts: this.#counts(d) };
  }

  /** One device's part in a deployment. */
  async device(id: string, deviceId: string): Promise<DeviceEntry | undefined> {
    const e = await this.#devices.get(`${id}.${deviceId}`);
    return e && e.operation === "PUT" ? e.json<DeviceEntry>() : undefined;
  }

  /** Pauses a running deployment: no more devices are started. */
  pause(id: string): Promise<Deployment> {
    return this.#transition(id, ["running"], "paused");
  }

  /** Resumes a paused deployment. */
  resume(id: string): Promise<Deployment> {
    return this.#transition(id, ["paused"], "running");
  }

  /** Cancels a deployment: devices not yet started never get it. */
  async cancel(id: string): Promise<Deployment> {
    const d = await this.#transition(id, ["running", "paused"], "cancelled");
    await this.#cancelQueued(d, null);
    return d;
  }

  /**
   * Takes the deployment back from the devices that have it but have not started it: those this
   * instance can reach (in a supercluster, its region's; the other regions' instances do theirs
   * when they see the deployment ended).
   */
  async #cancelQueued(d: Deployment, reason: string | null): Promise<void> {
    // Which devices were claimed is in the deployment itself (each region claims its devices in
    // order), so a view that lags (a watch of a mirror, under load) cannot hide one: those the
    // view holds queued, or does not hold at all, are read from the bucket. Those it holds in
    // another status are left to report, and one read found without an entry is not read again
    // (it shows up in the view if it is written later).
    const view = this.#view.get(d.id);
    const unread = this.#noEntry.get(d.id) ?? new Set<string>();
    const candidates = this.#claimedHere(d).filter((deviceId) => {
      const v = view?.get(deviceId);
      return v ? v.status === "queued" : !unread.has(deviceId);
    });
    for (const deviceId of candidates) {
      const key = `${d.id}.${deviceId}`;
      const e = await this.#devices.get(key);
      const entry = e?.operation === "PUT" ? e.json<DeviceEntry>() : undefined;
      if (!entry) {
        unread.add(deviceId);
        this.#noEntry.set(d.id, unread);
        continue;
      }
      this.#see(d.id, deviceId, entry.status, e!.revision);
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
        this.#see(d.id, deviceId, "cancelled", rev);
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
   * Runs the service until `signal` aborts: takes the devices' progress events from the
   * region's UPDATES stream (a durable consumer shared by the cloud instances) and ticks.
   */
  async run(
    nc: NatsConnection,
    signal: AbortSignal,
    options: { tickMs?: number } = {},
  ): Promise<void> {
    const stream = streamName("UPDATES", this.#o.region);
    // Until it exists: in a supercluster a consumer is created through the metadata leader,
    // which may be busy (or being elected) when the instance starts.
    let consumer: Awaited<ReturnType<ReturnType<typeof jetstream>["consumers"]["get"]>> | undefined;
    while (!consumer && !signal.aborted) {
      try {
        const jsm = await jetstreamManager(nc, { timeout: 20_000 });
        await jsm.consumers.add(stream, {
          durable_name: "deployments",
          ack_policy: AckPolicy.Explicit,
          filter_subject: filters.updateProgress({ region: this.#o.region }),
        }).catch((err) => {
          // Already there (made by another instance, or by an older config): it is used as is.
          if (!isConsumerExists(err)) throw err;
        });
        consumer = await jetstream(nc).consumers.get(stream, "deployments");
      } catch (err) {
        // Tried again until it works (a leader being elected, a region coming back), but said.
        this.#o.logger?.log(
          isTransientNatsError(err) ? "info" : "warn",
          "the deployments consumer cannot be made yet; trying again",
          { stream, error: String(err) },
        );
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
    if (!consumer) return;
    const ticking = (async () => {
      while (!signal.aborted) {
        await this.tick().catch((err) =>
          this.#o.logger?.log("warn", "deployment tick failed", { error: String(err) })
        );
        await new Promise((r) => setTimeout(r, options.tickMs ?? 2000));
      }
    })();
    while (!signal.aborted) {
      try {
        const batch = await consumer.fetch({ max_messages: 256, expires: 1000 });
        for await (const m of batch) {
          const e = parseDeploymentEvent(m.data);
          const known = e.ok && e.value.type === "update_progress"
            ? await this.record(e.value)
            : true;
          // Not known yet: in a supercluster the mirror of the device entries this instance
          // reads may not hold the one it wrote a moment ago. Asked again in a second (for a
          // minute), instead of being lost with the deployment left waiting for the device.
          if (!known && m.info.deliveryCount < 60) m.nak(1000);
          else {
            if (!known && e.ok && e.value.type === "update_progress") {
              this.#o.logger?.log("warn", "update progress dropped: no entry for the device", {
                deployment: e.value.deploymentId,
                device: e.value.deviceId,
              });
            }
            m.ack();
          }
        }
      } catch (err) {
        if (signal.aborted) break;
        // The batch's unacknowledged events come again; the failure is said, not hidden.
        this.#o.logger?.log("warn", "update progress could not be taken; trying again", {
          stream,
          error: String(err),
        });
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
    await ticking;
  }

  /**
   * Records a device's progress event. Returns false when it is worth recording again later:
   * the device has no entry in the deployment that this instance can see (in a supercluster its
   * mirror may not hold it yet; on a single server it never will), or the entry changed since it
   * was read (another instance moved the device on).
   */
  async record(event: Extract<DeploymentEvent, { type: "update_progress" }>): Promise<boolean> {
    const key = `${event.deploymentId}.${event.deviceId}`;
    const e = await this.#devices.get(key);
    if (!e || e.operation !== "PUT") return this.#o.regional !== true;
    const entry = e.json<DeviceEntry>();
    // What this instance (or another) wrote may be newer than what its mirror shows: ask again
    // once the mirror has it, rather than decide on an old status.
    const seen = this.#view.get(event.deploymentId)?.get(event.deviceId);
    if (seen && seen.rev > e.revision) return false;
    const current = entry.status;
    if (FINAL.has(current) && current !== "healthy") return true;
    const status: DeviceDeploymentStatus | undefined = ({
      queued: "queued",
      downloading: "downloading",
      verifying: "downloading",
      installing: "installing",
      switching: "installing",
      health_check: "installing",
      healthy: "healthy",
      failed: "failed",
      rolled_back: "rolled_back",
    } as const)[event.phase];
    // A redelivered event (one asked again while the mirror caught up) never moves a device back.
    if (!status || STEP[status] < STEP[current]) return true;
    const next: DeviceEntry = {
      ...entry,
      status,
      reason: event.reason,
      bytesDone: event.bytesDone,
      bytesTotal: event.bytesTotal,
      bytesSaved: event.bytesSaved,
      at: event.ts,
    };
    // Only over the entry read: another instance of the region may have moved the device on
    // since (its consumer is shared); then the event is asked again against the newer entry.
    try {
      const rev = await this.#devices.update(key, JSON.stringify(next), e.revision);
      this.#see(event.deploymentId, event.deviceId, status, rev);
    } catch (err) {
      if (isRevisionConflict(err)) return false;
      throw err;
    }
    return true;
  }

  /**
   * One step of every running deployment: starts the devices the policy allows by now, ends
   * deployments whose devices have all finished, aborts (and rolls back) past the failure
   * threshold. Call it every few seconds; several cloud instances may (revision checks keep
   * them from starting a device twice).
   */
  async tick(): Promise<void> {
    const keys = await this.#deployments.keys();
    for await (const id of keys) {
      const e = await this.#deployments.get(id);
      if (!e || e.operation !== "PUT") continue;
      const d = e.json<Deployment>();
      if (this.#o.regional && (d.state === "cancelled" || d.state === "aborted")) {
        // Ended in another region: take it back from this region's devices still queued (on a
        // failure, again next tick).
        await this.#cancelQueued(d, d.reason).catch((err) =>
          this.#o.logger?.log("warn", "taking back a cancelled deployment failed", {
            deployment: d.id,
            error: String(err),
          })
        );
        continue;
      }
      if (d.state !== "running") continue;
      await this.#step(d, e.revision).catch((err) => {
        // Another instance moved it first (its revision check refused ours): next tick.
        if (isRevisionConflict(err)) return;
        this.#o.logger?.log("warn", "a deployment step failed; it is tried again next tick", {
          deployment: d.id,
          error: String(err),
        });
      });
    }
  }

  async #step(d: Deployment, revision: number): Promise<void> {
    const now = this.#now();
    const counts = this.#counts(d);
    const finished = counts.healthy + counts.failed + counts.rolled_back;
    const bad = counts.failed + counts.rolled_back;
    if (finished > 0 && bad / finished > d.policy.failureThreshold && bad > 0) {
      const reason =
        `${bad} of ${finished} devices failed (threshold ${d.policy.failureThreshold})`;
      await this.#deployments.update(
        d.id,
        JSON.stringify({ ...d, state: "aborted", reason }),
        revision,
      );
      await this.#rollback(d, reason);
      return;
    }
    const region = this.#o.region;
    const regional = this.#o.regional === true;
    // The devices this instance starts: all, or (in a supercluster) its region's, in order.
    let list: readonly string[] = d.devices;
    if (regional) {
      const regionOf = new Map(Array.from(this.#o.devices(), (x) => [x.id, x.region]));
      list = d.devices.filter((id) => regionOf.get(id) === region);
    }
    const started = regional ? d.assignedIn?.[region] ?? 0 : d.assigned;
    let canaryDoneAt = regional ? d.canaryDoneAtIn?.[region] ?? null : d.canaryDoneAt;
    const canaries = Math.min(d.policy.canary, list.length);
    if (canaryDoneAt === null) {
      const done = this.#allFinal(d.id, list, canaries);
      if (started >= canaries && done) canaryDoneAt = now;
    }
    let allowed: number;
    if (canaryDoneAt === null) allowed = canaries;
    else {
      // Devices allowed by now: the rate, growing by `growth` each whole minute since the canaries.
      const minutes = (now - canaryDoneAt) / 60_000;
      let total = 0;
      let rate = d.policy.ratePerMinute;
      for (let m = 0; m < Math.floor(minutes); m++, rate *= d.policy.growth) total += rate;
      total += rate * (minutes - Math.floor(minutes));
      allowed = canaries + Math.max(1, Math.floor(total));
    }
    allowed = Math.min(allowed, list.length);
    const next = list.slice(started, allowed);
    const assignedIn = regional ? { ...d.assignedIn, [region]: started + next.length } : undefined;
    const assigned = assignedIn
      ? Object.values(assignedIn).reduce((a, b) => a + b, 0)
      : d.assigned + next.length;
    const allDone = assigned === d.devices.length &&
      this.#allFinal(d.id, d.devices, assigned);
    const updated: Deployment = {
      ...d,
      assigned,
      ...(assignedIn
        ? { assignedIn, canaryDoneAtIn: { ...d.canaryDoneAtIn, [region]: canaryDoneAt } }
        : { canaryDoneAt }),
      state: allDone ? "completed" : d.state,
    };
    if (next.length > 0 && !await this.#artifactsHere(d)) return; // the mirror is catching up
    // Claim the devices first (the revision check stops a second instance), then start them.
    await this.#deployments.update(d.id, JSON.stringify(updated), revision);
    for (const deviceId of next) await this.#assign(updated, deviceId);
  }

  /**
   * True when the stream the region's devices read artifacts from holds every chunk of `d`'s
   * targets (a mirror copies them after their publication, and may lag or be cut off).
   */
  async #artifactsHere(d: Deployment): Promise<boolean> {
    const stream = this.#o.artifactsStream;
    const jsm = this.#o.jsm;
    if (!stream || !jsm || stream === objectStreamOf(buckets.artifacts)) return true;
    if (this.#mirrored.has(d.id)) return true;
    for (const t of d.targets) {
      const e = await this.#components.get(componentKey(t.component, t.version));
      const signed = e?.operation === "PUT" ? signedManifest.parse(e.value) : undefined;
      if (!signed?.ok) return false;
      const manifest = JSON.parse(signed.value.manifest) as {
        artifacts?: { chunks?: { sha256: string }[] }[];
      };
      for (const chunk of (manifest.artifacts ?? []).flatMap((a) => a.chunks ?? [])) {
        const meta = `$O.${buckets.artifacts}.M.${Base64UrlPaddedCodec.encode(chunk.sha256)}`;
        // From the stream's leader: a Direct Get may be answered by a replica that is behind.
        const m = await jsm.streams.getMessage(stream, { last_by_subj: meta });
        if (!m) return false;
      }
    }
    this.#mirrored.add(d.id);
    return true;
  }

  /** The devices started so far (in a supercluster, each region's first ones). */
  #assignedDevices(d: Deployment): readonly string[] {
    if (!d.assignedIn) return d.devices.slice(0, d.assigned);
    const view = this.#view.get(d.id);
    return d.devices.filter((id) => view?.has(id));
  }

  /** True when the first `n` devices of `list` have all finished their part in deployment `id`. */
  #allFinal(id: string, list: readonly string[], n: number): boolean {
    const view = this.#view.get(id);
    for (const deviceId of list.slice(0, n)) {
      const status = view?.get(deviceId)?.status;
      if (!status || !FINAL.has(status)) return false;
    }
    return true;
  }

  #counts(d: Deployment): DeploymentCounts {
    const counts: DeploymentCounts = {
      unassigned: d.devices.length - d.assigned,
      queued: 0,
      downloading: 0,
      installing: 0,
      healthy: 0,
      failed: 0,
      rolled_back: 0,
      superseded: 0,
      cancelled: 0,
    };
    const view = this.#view.get(d.id);
    for (const deviceId of this.#assignedDevices(d)) {
      counts[view?.get(deviceId)?.status ?? "queued"]++;
    }
    return counts;
  }

  /** Starts a device: its desired shadow gets the deployment (superseding any older one). */
  async #assign(d: Deployment, deviceId: string): Promise<void> {
    const key = shadowKey(deviceId, "desired");
    const reportedEntry = await this.#shadow.get(shadowKey(deviceId, "reported"));
    const reported = reportedEntry?.operation === "PUT"
      ? parseShadow(reportedEntry.value)
      : undefined;
    const previous: Record<string, string> = reported?.ok
      ? { ...reported.value.state.components }
      : {};
    // The device's entry first: a device that answers at once finds it (its progress would
    // otherwise be dropped and the deployment would wait for it forever).
    await this.#setDevice(d.id, deviceId, {
      status: "queued",
      reason: null,
      previous,
      bytesDone: 0,
      bytesTotal: 0,
      bytesSaved: 0,
      at: this.#now(),
    });
    for (let attempt = 0; attempt < 5; attempt++) {
      const e = await this.#shadow.get(key);
      const current = e?.operation === "PUT" ? parseShadow(e.value) : undefined;
      const desired = current?.ok && current.value.kind === "desired" ? current.value : undefined;
      const older = desired?.state.deployment?.deploymentId;
      if (older && older !== d.id) {
        const entry = await this.device(older, deviceId);
        if (entry && !FINAL.has(entry.status)) {
          await this.#setDevice(older, deviceId, {
            ...entry,
            status: "superseded",
            at: this.#now(),
          });
        }
      }
      const state: ShadowState = {
        ...desired?.state,
        deployment: {
          deploymentId: d.id,
          targets: d.targets.map((t) => ({ ...t })),
          // Where the device reads the artifacts: its region's mirror, in a supercluster.
          ...(this.#o.artifactsStream &&
              this.#o.artifactsStream !== objectStreamOf(buckets.artifacts)
            ? { artifacts: this.#o.artifactsStream }
            : {}),
        },
      };
      const next = shadow.encode({
        ...newEnvelope(this.#now()),
        deviceId,
        kind: "desired",
        version: (desired?.version ?? 0) + 1,
        state,
        updatedBy: `deployment ${d.id}`,
      });
      try {
        if (e?.operation === "PUT") await this.#shadow.update(key, next, e.revision);
        else await this.#shadow.create(key, next);
        break;
      } catch (err) {
        // Changed meanwhile (an operator's edit): read it again; anything else propagates.
        if (!isRevisionConflict(err)) throw err;
      }
    }
  }

  /**
   * Takes deployment `deploymentId` out of the device's desired shadow (if it is still there),
   * over whatever else changes it meanwhile (an operator's edit, another deployment).
   */
  async #clearDesired(deviceId: string, deploymentId: string): Promise<void> {
    const key = shadowKey(deviceId, "desired");
    for (let attempt = 1;; attempt++) {
      const e = await this.#shadow.get(key);
      const current = e?.operation === "PUT" ? parseShadow(e.value) : undefined;
      if (!current?.ok || current.value.kind !== "desired") return;
      if (current.value.state.deployment?.deploymentId !== deploymentId) return;
      const { deployment: _, ...rest } = current.value.state;
      try {
        await this.#shadow.update(
          key,
          shadow.encode({
            ...current.value,
            ...newEnvelope(this.#now()),
            version: current.value.version + 1,
            state: rest,
            updatedBy: `deployment ${deploymentId} cancelled`,
          }),
          e!.revision,
        );
        return;
      } catch (err) {
        if (!isRevisionConflict(err) || attempt >= 20) throw err;
        await new Promise((r) => setTimeout(r, 10 * attempt));
      }
    }
  }

  /** Sends the devices an aborted deployment updated back to the versions they had. */
  async #rollback(d: Deployment, reason: string): Promise<void> {
    const byTargets = new Map<string, string[]>();
    await this.#cancelQueued(d, reason);
    for (const deviceId of this.#assignedDevices(d)) {
      const entry = await this.device(d.id, deviceId);
      if (!entry || entry.status === "queued" || entry.status === "cancelled") continue;
      if (
        entry.status !== "healthy" && entry.status !== "downloading" &&
        entry.status !== "installing"
      ) {
        continue;
      }
      const targets = d.targets
        .filter((t) => entry.previous[t.component] !== undefined)
        .map((t) => ({ component: t.component, version: entry.previous[t.component]! }));
      if (targets.length === 0) continue;
      const k = JSON.stringify(targets);
      byTargets.set(k, [...(byTargets.get(k) ?? []), deviceId]);
    }
    let n = 0;
    for (const [k, devices] of byTargets) {
      await this.create({
        id: `${d.id.slice(0, 50)}-rb${n++}`,
        targets: JSON.parse(k),
        selector: { devices },
        policy: { canary: 0, ratePerMinute: 1_000_000, growth: 1, failureThreshold: 1 },
        rollbackOf: d.id,
      });
    }
  }

  async #transition(
    id: string,
    from: Deployment["state"][],
    to: Deployment["state"],
  ): Promise<Deployment> {
    // The ticker changes deployments too (devices started): on a revision conflict, read again.
    for (let attempt = 0;; attempt++) {
      const e = await this.#deployments.get(id);
      if (!e || e.operation !== "PUT") throw new ComponentError("id", `No deployment "${id}"`);
      const d = e.json<Deployment>();
      if (!from.includes(d.state)) {
        throw new ComponentError("state", `Cannot make a ${d.state} deployment ${to}`);
      }
      const next = { ...d, state: to };
      try {
        await this.#deployments.update(id, JSON.stringify(next), e.revision);
        return next;
      } catch (err) {
        if (attempt >= 20 || !isRevisionConflict(err)) throw err;
      }
    }
  }

  async #setDevice(id: string, deviceId: string, entry: DeviceEntry): Promise<void> {
    const rev = await this.#devices.put(`${id}.${deviceId}`, JSON.stringify(entry));
    this.#see(id, deviceId, entry.status, rev);
  }

  #select(selector: DeploymentSelector): string[] {
    const out: string[] = [];
    for (const dev of this.#o.devices()) {
      const pick = selector.devices?.includes(dev.id) ||
        selector.groups?.some((g) => dev.groups.includes(g)) ||
        selector.tags?.some((t) => dev.tags.includes(t)) ||
        selector.regions?.includes(dev.region);
      if (pick) out.push(dev.id);
    }
    return out.sort();
  }
}
