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
 * const service = await DeploymentService.open(nc, {
 *   region: "local",
 *   devices: () => [{ id: "m001-a", region: "local", tags: [], groups: [] }],
 * });
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
import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import {
  buckets,
  componentKey,
  type DeploymentEvent,
  filters,
  newMessageId,
  signedManifest,
  streamName,
} from "../../protocol/mod.ts";
import { ComponentError } from "./component_registry.ts";
import { isRevisionConflict } from "../fleet/mod.ts";
import { ImpersonationAudit } from "../provisioning/mod.ts";
import { DeploymentArtifacts } from "./deployment_artifacts.ts";
import { assignedDevices, countDevices } from "./deployment_counts.ts";
import {
  DEFAULT_MIN_REVIEWED,
  type Deployment,
  type DeploymentCounts,
  type DeploymentSelector,
  type DeploymentServiceOptions,
  type DeploymentTarget,
  type DeviceEntry,
  FINAL,
  type PromotionVerdict,
  readDeviceEntry,
  type RolloutPolicy,
  type ShadowPromotion,
} from "./deployment_model.ts";
import { consumeProgress, recordProgress } from "./deployment_progress.ts";
import { rollback } from "./deployment_rollback.ts";
import { failureReason, rolloutPolicy, rolloutStep } from "./deployment_rollout.ts";
import { startDevice, type StartDeviceDeps } from "./deployment_start.ts";
import { DeploymentTakeBack } from "./deployment_take_back.ts";
import { DeploymentView } from "./deployment_view.ts";

export type {
  Deployment,
  DeploymentCounts,
  DeploymentSelector,
  DeploymentServiceOptions,
  DeploymentTarget,
  DeviceDeploymentStatus,
  DeviceEntry,
  RolloutPolicy,
  SelectableDevice,
} from "./deployment_model.ts";
import { compareAndSwap, sleep } from "../../runtime/mod.ts";

/** Runs deployments. */
export class DeploymentService implements AsyncDisposable {
  readonly #deployments: KV;
  /** Every deployment's device statuses, kept from a watch of `deployment_devices`. */
  readonly #view: DeploymentView;
  readonly #devices: KV;
  readonly #components: KV;
  readonly #o: DeploymentServiceOptions;
  readonly #takeBack: DeploymentTakeBack;
  readonly #artifacts: DeploymentArtifacts;
  readonly #start: StartDeviceDeps;

  private constructor(
    kv: { deployments: KV; devices: KV; shadow: KV; components: KV },
    view: DeploymentView,
    options: DeploymentServiceOptions,
  ) {
    this.#deployments = kv.deployments;
    this.#devices = kv.devices;
    this.#components = kv.components;
    this.#view = view;
    this.#o = options;
    this.#takeBack = new DeploymentTakeBack(view, kv, options);
    this.#artifacts = new DeploymentArtifacts(kv.components, options);
    this.#start = {
      shadow: kv.shadow,
      devices: kv.devices,
      view,
      now: () => this.#now(),
      artifactsStream: options.artifactsStream,
    };
  }

  /** Opens the service's buckets. */
  static async open(
    nc: NatsConnection,
    options: DeploymentServiceOptions,
  ): Promise<DeploymentService> {
    const kv = {
      deployments: await openKv(nc, buckets.deployments, { history: 1 }),
      devices: await openKv(nc, buckets.deploymentDevices, { history: 1 }),
      shadow: await openKv(nc, buckets.shadow, { history: 5 }),
      components: await openKv(nc, buckets.components, { history: 1 }),
    };
    const view = await DeploymentView.open(kv.devices, { logger: options.logger });
    return new DeploymentService(kv, view, options);
  }

  /** Calls `listener` with a deployment's id whenever one of its devices changes status. */
  onChange(listener: (deploymentId: string) => void): () => void {
    return this.#view.onChange(listener);
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
    await this.#view[Symbol.asyncDispose]();
  }

  #now(): number {
    return (this.#o.now ?? Date.now)();
  }

  /**
   * Creates a deployment. Refused with {@link ComponentError} naming the field when a target
   * version is not published, a target in `shadow` mode is not a model, the selector picks no
   * device, or the policy is out of range; nothing is created then.
   */
  async create(spec: {
    targets: readonly DeploymentTarget[];
    selector: DeploymentSelector;
    policy?: Partial<RolloutPolicy>;
    id?: string;
    rollbackOf?: string;
    /** For a deployment with a model in shadow mode: reviewed sessions before a verdict. */
    promotion?: { minReviewed?: number };
    promotionOf?: string;
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
      if ((t.mode === "shadow" || t.mode === "stop") && publishedKind(e.string()) !== "model") {
        throw new ComponentError(
          `targets[${i}].mode`,
          `${t.component} ${t.version} is not a model: only a model runs in ${t.mode} mode`,
        );
      }
    }
    const policy = rolloutPolicy(spec.policy);
    const promotion = shadowPromotion(spec.targets, spec.promotion);
    const devices = this.#select(spec.selector);
    if (devices.length === 0) {
      throw new ComponentError("selector", "The selector picks no registered device");
    }
    const now = this.#now();
    const d: Deployment = {
      id: spec.id ?? `dep-${newMessageId(now)}`.slice(0, 64),
      targets: spec.targets.map((t) => ({
        component: t.component,
        version: t.version,
        ...(t.mode === "shadow" || t.mode === "stop" ? { mode: t.mode } : {}),
      })),
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
      ...(promotion ? { promotion } : {}),
      ...(spec.promotionOf ? { promotionOf: spec.promotionOf } : {}),
    };
    await this.#deployments.create(d.id, JSON.stringify(d));
    return d;
  }

  /** The deployments whose model in shadow mode is still compared (not cancelled or aborted). */
  async comparing(): Promise<Deployment[]> {
    const out: Deployment[] = [];
    for await (const key of await this.#deployments.keys()) {
      const e = await this.#deployments.get(key);
      if (e?.operation !== "PUT") continue;
      const d = e.json<Deployment>();
      if (d.promotion?.state === "comparing" && d.state !== "cancelled" && d.state !== "aborted") {
        out.push(d);
      }
    }
    return out;
  }

  /**
   * Carries out a shadow comparison's verdict: `promote` creates a live deployment of the
   * candidate to the shadow deployment's devices (canary first, under its policy); `stop` one
   * that stops the candidate on them (all at once); the shadow deployment keeps the verdict,
   * why, and the follow-up's id. Safe to call from several instances: the follow-up's id comes
   * from the shadow deployment's, and a second call finds the verdict given. Refused with
   * {@link ComponentError} when the deployment does not exist or is not comparing.
   */
  async conclude(id: string, verdict: PromotionVerdict): Promise<Deployment> {
    const d = (await this.get(id)) as Deployment | undefined;
    if (!d) throw new ComponentError("id", `No deployment "${id}"`);
    if (d.promotion?.state !== "comparing") {
      throw new ComponentError("state", `Deployment "${id}" has no comparison going on`);
    }
    const followUp = `${d.id.slice(0, 55)}-${verdict.state}`;
    const stop = verdict.state === "stop";
    await this.create({
      id: followUp,
      targets: d.targets.filter((t) => t.mode === "shadow").map((t) => ({
        component: t.component,
        version: t.version,
        ...(stop ? { mode: "stop" as const } : {}),
      })),
      selector: { devices: d.devices },
      policy: stop ? { ...d.policy, canary: 0, ratePerMinute: 10_000 } : d.policy,
      promotionOf: d.id,
    }).catch(async (err) => {
      // Made already (by another instance, or an earlier call that failed after it).
      if ((await this.get(followUp))?.promotionOf !== d.id) throw err;
    });
    const written = await compareAndSwap<Deployment>({ kv: this.#deployments, key: id }, (x) => {
      if (!x?.promotion) throw new ComponentError("id", `No deployment "${id}"`);
      if (x.promotion.state !== "comparing") return x;
      return {
        ...x,
        promotion: {
          ...x.promotion,
          state: stop ? "stopped" : "promoted",
          reason: verdict.reason,
          followUp,
          decidedAt: this.#now(),
        },
      };
    });
    return written.value;
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
    const missing = d.assignedIn !== undefined && assignedDevices(d, view).length < d.assigned;
    const behind = d.devices.filter((x) => {
      const v = view?.get(x);
      return v ? d.state === "completed" && !FINAL.has(v.status) : missing;
    });
    await Promise.all(behind.map(async (deviceId) => {
      const r = await this.#devices.get(`${d.id}.${deviceId}`);
      if (r?.operation === "PUT") {
        this.#view.see(d.id, deviceId, r.json<DeviceEntry>().status, r.revision);
      }
    }));
    return { ...d, counts: countDevices(d, this.#view.get(d.id)) };
  }

  /** One device's part in a deployment. */
  device(id: string, deviceId: string): Promise<DeviceEntry | undefined> {
    return readDeviceEntry(this.#devices, { id, deviceId });
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
    await this.#takeBack.cancelQueued(d, null);
    return d;
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
        await sleep(1000, { signal });
      }
    }
    if (!consumer) return;
    const ticking = (async () => {
      while (!signal.aborted) {
        await this.tick().catch((err) =>
          this.#o.logger?.log("warn", "deployment tick failed", { error: String(err) })
        );
        await sleep(options.tickMs ?? 2000, { signal });
      }
    })();
    const impersonation = new ImpersonationAudit(nc, {
      region: this.#o.region,
      logger: this.#o.logger,
    });
    await consumeProgress(consumer, {
      signal,
      stream,
      record: (event) => this.record(event),
      logger: this.#o.logger,
      refuse: (report) => impersonation.refuse(report),
    });
    await ticking;
  }

  /**
   * Records a device's progress event. Returns false when it is worth recording again later:
   * the device has no entry in the deployment that this instance can see (in a supercluster its
   * mirror may not hold it yet; on a single server it never will), or the entry changed since it
   * was read (another instance moved the device on).
   */
  record(event: Extract<DeploymentEvent, { type: "update_progress" }>): Promise<boolean> {
    return recordProgress(event, {
      devices: this.#devices,
      view: this.#view,
      regional: this.#o.regional,
    });
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
        await this.#takeBack.cancelQueued(d, d.reason).catch((err) =>
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
    const reason = failureReason(countDevices(d, this.#view.get(d.id)), d.policy);
    if (reason !== null) {
      await this.#deployments.update(
        d.id,
        JSON.stringify({ ...d, state: "aborted", reason }),
        revision,
      );
      await rollback(d, reason, {
        takeBack: this.#takeBack,
        view: this.#view,
        devices: this.#devices,
        create: (spec) => this.create(spec),
      });
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
    const { next, updated } = rolloutStep(d, {
      now,
      list,
      statuses: this.#view.get(d.id),
      ...(regional ? { region } : {}),
    });
    if (next.length > 0 && !await this.#artifacts.here(d)) return; // the mirror is catching up
    // Claim the devices first (the revision check stops a second instance), then start them.
    await this.#deployments.update(d.id, JSON.stringify(updated), revision);
    for (const deviceId of next) await startDevice(updated, deviceId, this.#start);
  }

  async #transition(
    id: string,
    from: Deployment["state"][],
    to: Deployment["state"],
  ): Promise<Deployment> {
    // The ticker changes deployments too (devices started): on a revision conflict, read again
    // (20 attempts, then CompareAndSwapExhaustedError).
    const written = await compareAndSwap<Deployment>({ kv: this.#deployments, key: id }, (d) => {
      if (!d) throw new ComponentError("id", `No deployment "${id}"`);
      if (!from.includes(d.state)) {
        throw new ComponentError("state", `Cannot make a ${d.state} deployment ${to}`);
      }
      return { ...d, state: to };
    });
    return written.value;
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

/** How a new deployment's comparison ends, for one with a model in shadow mode. */
function shadowPromotion(
  targets: readonly DeploymentTarget[],
  spec: { minReviewed?: number } | undefined,
): ShadowPromotion | undefined {
  if (!targets.some((t) => t.mode === "shadow")) {
    if (spec) {
      throw new ComponentError(
        "promotion",
        "Only a deployment with a model in shadow mode has one",
      );
    }
    return undefined;
  }
  const minReviewed = spec?.minReviewed ?? DEFAULT_MIN_REVIEWED;
  if (!Number.isInteger(minReviewed) || minReviewed < 1 || minReviewed > 100_000) {
    throw new ComponentError("promotion.minReviewed", "must be an integer from 1 to 100000");
  }
  return { minReviewed, state: "comparing", reason: null, followUp: null, decidedAt: null };
}

/** The kind (`agent`, `model`, `config`) of a published version's stored signed manifest. */
function publishedKind(stored: string): string | undefined {
  const signed = signedManifest.parse(stored);
  if (!signed.ok) return undefined;
  const manifest = JSON.parse(signed.value.manifest) as { recipe?: { kind?: string } };
  return manifest.recipe?.kind;
}
