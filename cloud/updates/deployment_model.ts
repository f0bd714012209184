/**
 * What a deployment is, as stored in NATS KV: the deployment itself (`deployments`), each
 * device's part in it (`deployment_devices`), and the options of the service that runs them.
 *
 * @module
 */
import type { JetStreamManager } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
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

/** A component version a deployment installs. */
export interface DeploymentTarget {
  readonly component: string;
  readonly version: string;
  /**
   * `shadow`: a model run beside the live one as a candidate, never charged; `stop`: that
   * candidate stops running (its comparison ended). Default live.
   */
  readonly mode?: "live" | "shadow" | "stop";
}

/**
 * How a deployment with a model in shadow mode ends its comparison: once the candidate is at
 * least as good as the live model over `minReviewed` reviewed sessions it is promoted (a live
 * deployment of it to the same devices, canary first, under the same policy); once it is worse
 * it is stopped (a deployment that stops it on them), and why is kept.
 */
export interface ShadowPromotion {
  /** Reviewed sessions decided by both models needed for a verdict. */
  readonly minReviewed: number;
  readonly state: "comparing" | "promoted" | "stopped";
  /** Why it was promoted or stopped, or null while comparing. */
  readonly reason: string | null;
  /** The deployment that carries the verdict out (the candidate live, or stopped), or null. */
  readonly followUp: string | null;
  /** When the verdict came, Unix ms, or null. */
  readonly decidedAt: number | null;
}

/** A shadow comparison's verdict, as {@link ShadowPromotion} carries it out. */
export interface PromotionVerdict {
  readonly state: "promote" | "stop";
  readonly reason: string;
}

/** Reviewed sessions a shadow deployment compares before a verdict, unless it says. */
export const DEFAULT_MIN_REVIEWED = 20;

/** A deployment as stored. */
export interface Deployment {
  readonly id: string;
  readonly targets: readonly DeploymentTarget[];
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
  /** For a deployment with a model in shadow mode: how its comparison ends. */
  readonly promotion?: ShadowPromotion;
  /** For a deployment that carries out a shadow comparison's verdict, the shadow deployment. */
  readonly promotionOf?: string;
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

/** The statuses a device ends its part in a deployment with. */
export const FINAL: ReadonlySet<DeviceDeploymentStatus> = new Set<DeviceDeploymentStatus>([
  "healthy",
  "failed",
  "rolled_back",
  "superseded",
  "cancelled",
]);

/** Reads one device's part in a deployment from `devices` (the `deployment_devices` bucket). */
export async function readDeviceEntry(
  devices: KV,
  key: { id: string; deviceId: string },
): Promise<DeviceEntry | undefined> {
  const e = await devices.get(`${key.id}.${key.deviceId}`);
  return e && e.operation === "PUT" ? e.json<DeviceEntry>() : undefined;
}
