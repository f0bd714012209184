/**
 * Starting a device in a deployment: its entry (queued, with the versions it had), then its
 * desired shadow gets the deployment, superseding an older one the device had not finished.
 *
 * @module
 */
import type { KV } from "@nats-io/kv";
import {
  buckets,
  newEnvelope,
  objectStreamOf,
  parseShadow,
  shadow,
  shadowKey,
  type ShadowState,
} from "../../protocol/mod.ts";
import { isRevisionConflict } from "../fleet/mod.ts";
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
  const key = shadowKey(deviceId, "desired");
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
  for (let attempt = 0; attempt < 5; attempt++) {
    const e = await deps.shadow.get(key);
    const current = e?.operation === "PUT" ? parseShadow(e.value) : undefined;
    const desired = current?.ok && current.value.kind === "desired" ? current.value : undefined;
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
    const state: ShadowState = {
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
    const next = shadow.encode({
      ...newEnvelope(deps.now()),
      deviceId,
      kind: "desired",
      version: (desired?.version ?? 0) + 1,
      state,
      updatedBy: `deployment ${d.id}`,
    });
    try {
      if (e?.operation === "PUT") await deps.shadow.update(key, next, e.revision);
      else await deps.shadow.create(key, next);
      break;
    } catch (err) {
      // Changed meanwhile (an operator's edit): read it again; anything else propagates.
      if (!isRevisionConflict(err)) throw err;
    }
  }
}
