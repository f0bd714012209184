/**
 * Starting a device in a deployment: its entry (queued, with the versions it had), then its
 * desired shadow gets the deployment, superseding an older one the device had not finished.
 *
 * @module
 */
import type { KV } from "@nats-io/kv";
import { buckets, objectStreamOf, parseShadow, shadowKey } from "../../protocol/mod.ts";
import { DesiredShadow } from "../fleet/mod.ts";
import { type Deployment, type DeviceEntry, FINAL, readDeviceEntry } from "./deployment_model.ts";
import type { DeploymentView } from "./deployment_view.ts";

/** What starting a device writes to and reads from. */
export interface StartDeviceDeps {
  /** The `shadow` bucket (the device's reported and desired shadows). */
  readonly shadow: KV;
  /** The `deployment_devices` bucket. */
  readonly devices: KV;
  /** The view the entries written are noted in. */
  readonly view: DeploymentView;
  /** Clock, Unix ms. */
  readonly now: () => number;
  /** The stream the region's devices read artifacts from, when not the store itself. */
  readonly artifactsStream?: string | undefined;
}

async function setDevice(
  deps: StartDeviceDeps,
  key: { id: string; deviceId: string },
  entry: DeviceEntry,
): Promise<void> {
  const rev = await deps.devices.put(`${key.id}.${key.deviceId}`, JSON.stringify(entry));
  deps.view.see(key.id, key.deviceId, entry.status, rev);
}

/** Starts a device: its desired shadow gets the deployment (superseding any older one). */
export async function startDevice(
  d: Deployment,
  deviceId: string,
  deps: StartDeviceDeps,
): Promise<void> {
  const reportedEntry = await deps.shadow.get(shadowKey(deviceId, "reported"));
  const reported = reportedEntry?.operation === "PUT"
    ? parseShadow(reportedEntry.value)
    : undefined;
  const previous: Record<string, string> = reported?.ok
    ? { ...reported.value.state.components }
    : {};
  // The device's entry first: a device that answers at once finds it (its progress would
  // otherwise be dropped and the deployment would wait for it forever).
  await setDevice(deps, { id: d.id, deviceId }, {
    status: "queued",
    reason: null,
    previous,
    bytesDone: 0,
    bytesTotal: 0,
    bytesSaved: 0,
    at: deps.now(),
  });
  // Over an operator's edit made meanwhile: read again (5 attempts, as before).
  await new DesiredShadow(deps.shadow, { now: deps.now }).change(deviceId, async (desired) => {
    const older = desired?.state.deployment?.deploymentId;
    if (older && older !== d.id) {
      const entry = await readDeviceEntry(deps.devices, { id: older, deviceId });
      if (entry && !FINAL.has(entry.status)) {
        await setDevice(deps, { id: older, deviceId }, {
          ...entry,
          status: "superseded",
          at: deps.now(),
        });
      }
    }
    return {
      ...desired?.state,
      deployment: {
        deploymentId: d.id,
        targets: d.targets.map((t) => ({ ...t })),
        // Where the device reads the artifacts: its region's mirror, in a supercluster.
        ...(deps.artifactsStream &&
            deps.artifactsStream !== objectStreamOf(buckets.artifacts)
          ? { artifacts: deps.artifactsStream }
          : {}),
      },
    };
  }, { updatedBy: `deployment ${d.id}`, attempts: 5 });
}
