/**
 * Rolling an aborted deployment back: it is taken back from the devices still queued, and the
 * devices it reached get a rollback deployment to the versions they had (one per set of
 * versions, all at once: no canary, no rate).
 *
 * @module
 */
import type { KV } from "@nats-io/kv";
import { assignedDevices } from "./deployment_counts.ts";
import {
  type Deployment,
  type DeploymentSelector,
  readDeviceEntry,
  type RolloutPolicy,
} from "./deployment_model.ts";
import type { DeploymentTakeBack } from "./deployment_take_back.ts";
import type { DeploymentView } from "./deployment_view.ts";

/** What a rollback reads and creates through. */
export interface RollbackDeps {
  /** Takes the deployment back from the devices still queued. */
  readonly takeBack: DeploymentTakeBack;
  /** The device statuses (which devices were started, in a supercluster). */
  readonly view: DeploymentView;
  /** The `deployment_devices` bucket (the versions each device had before). */
  readonly devices: KV;
  /** Creates a rollback deployment. */
  readonly create: (spec: {
    id: string;
    targets: { component: string; version: string }[];
    selector: DeploymentSelector;
    policy: Partial<RolloutPolicy>;
    rollbackOf: string;
  }) => Promise<unknown>;
}

/** Sends the devices an aborted deployment updated back to the versions they had. */
export async function rollback(d: Deployment, reason: string, deps: RollbackDeps): Promise<void> {
  const byTargets = new Map<string, string[]>();
  await deps.takeBack.cancelQueued(d, reason);
  for (const deviceId of assignedDevices(d, deps.view.get(d.id))) {
    const entry = await readDeviceEntry(deps.devices, { id: d.id, deviceId });
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
    await deps.create({
      id: `${d.id.slice(0, 50)}-rb${n++}`,
      targets: JSON.parse(k),
      selector: { devices },
      policy: { canary: 0, ratePerMinute: 1_000_000, growth: 1, failureThreshold: 1 },
      rollbackOf: d.id,
    });
  }
}
