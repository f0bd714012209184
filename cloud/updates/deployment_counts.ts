/**
 * What a deployment's device statuses add up to (pure: the statuses come from the view of
 * `deployment_devices`): which devices were started, whether they have finished, and how many
 * are in each status.
 *
 * @module
 */
import {
  type Deployment,
  type DeploymentCounts,
  type DeviceDeploymentStatus,
  FINAL,
} from "./deployment_model.ts";

/** A deployment's device statuses by device, as the view holds them. */
export type DeviceStatuses = ReadonlyMap<string, { readonly status: DeviceDeploymentStatus }>;

/** The devices started so far (in a supercluster, each region's first ones). */
export function assignedDevices(
  d: Deployment,
  statuses: DeviceStatuses | undefined,
): readonly string[] {
  if (!d.assignedIn) return d.devices.slice(0, d.assigned);
  return d.devices.filter((id) => statuses?.has(id));
}

/** True when the first `n` devices of `list` have all finished their part in the deployment. */
export function allFinal(
  statuses: DeviceStatuses | undefined,
  list: readonly string[],
  options: { n: number },
): boolean {
  for (const deviceId of list.slice(0, options.n)) {
    const status = statuses?.get(deviceId)?.status;
    if (!status || !FINAL.has(status)) return false;
  }
  return true;
}

/** A deployment's devices counted by status (started ones the view has not seen as queued). */
export function countDevices(
  d: Deployment,
  statuses: DeviceStatuses | undefined,
): DeploymentCounts {
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
  for (const deviceId of assignedDevices(d, statuses)) {
    counts[statuses?.get(deviceId)?.status ?? "queued"]++;
  }
  return counts;
}
