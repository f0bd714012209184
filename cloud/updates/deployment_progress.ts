/**
 * The devices' progress in deployments: each `update_progress` event moves the device's entry
 * in `deployment_devices` forward (never back), over the entry it read (the region's instances
 * share one durable consumer, and may race). An event whose entry this instance cannot see yet
 * is asked again.
 *
 * @module
 */
import type { Consumer } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import {
  type DeploymentEvent,
  deviceSubjectParts,
  parseDeploymentEvent,
} from "../../protocol/mod.ts";
import type { ImpersonatedReport } from "../provisioning/mod.ts";
import { isRevisionConflict } from "../fleet/mod.ts";
import type { Logger } from "../../runtime/mod.ts";
import { type DeviceDeploymentStatus, type DeviceEntry, FINAL } from "./deployment_model.ts";
import type { DeploymentView } from "./deployment_view.ts";
import { sleep } from "../../runtime/mod.ts";

/** A device's progress event in a deployment. */
export type UpdateProgressEvent = Extract<DeploymentEvent, { type: "update_progress" }>;

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

/** What recording a progress event reads and writes. */
export interface RecordProgressDeps {
  /** The `deployment_devices` bucket. */
  readonly devices: KV;
  /** The view the entries written are noted in (and newer ones are looked for). */
  readonly view: DeploymentView;
  /** True in a supercluster (the instance reads a mirror of the entries, which may lag). */
  readonly regional?: boolean | undefined;
}

/**
 * Records a device's progress event. Returns false when it is worth recording again later:
 * the device has no entry in the deployment that this instance can see (in a supercluster its
 * mirror may not hold it yet; on a single server it never will), or the entry changed since it
 * was read (another instance moved the device on).
 */
export async function recordProgress(
  event: UpdateProgressEvent,
  deps: RecordProgressDeps,
): Promise<boolean> {
  const key = `${event.deploymentId}.${event.deviceId}`;
  const e = await deps.devices.get(key);
  if (!e || e.operation !== "PUT") return deps.regional !== true;
  const entry = e.json<DeviceEntry>();
  // What this instance (or another) wrote may be newer than what its mirror shows: ask again
  // once the mirror has it, rather than decide on an old status.
  const seen = deps.view.get(event.deploymentId)?.get(event.deviceId);
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
    const rev = await deps.devices.update(key, JSON.stringify(next), e.revision);
    deps.view.see(event.deploymentId, event.deviceId, status, rev);
  } catch (err) {
    if (isRevisionConflict(err)) return false;
    throw err;
  }
  return true;
}

/** What {@link consumeProgress} takes events with. */
export interface ConsumeProgressOptions {
  /** Stops taking events. */
  readonly signal: AbortSignal;
  /** The consumer's stream (named in the logs). */
  readonly stream: string;
  /** Records one event: false to have it delivered again (see {@link recordProgress}). */
  readonly record: (event: UpdateProgressEvent) => Promise<boolean>;
  /** Where failures and dropped events are said. */
  readonly logger?: Logger | undefined;
  /**
   * Told of an event whose body names another device than the subject it came on (the
   * sender's identity); the event is dropped.
   */
  readonly refuse?: ((report: ImpersonatedReport) => void) | undefined;
}

/**
 * Takes the devices' progress events from `consumer` until the signal aborts: each is recorded,
 * and acknowledged unless it is worth recording again in a second.
 */
export async function consumeProgress(
  consumer: Consumer,
  options: ConsumeProgressOptions,
): Promise<void> {
  const { signal, stream, logger } = options;
  while (!signal.aborted) {
    try {
      const batch = await consumer.fetch({ max_messages: 256, expires: 1000 });
      for await (const m of batch) {
        const e = parseDeploymentEvent(m.data);
        if (!e.ok || e.value.type !== "update_progress") {
          logger?.log("warn", "update progress refused: not an update_progress event", {
            subject: m.subject,
            ...(e.ok ? { type: e.value.type } : { error: String(e.error) }),
          });
          m.ack();
          continue;
        }
        const sender = deviceSubjectParts(m.subject).deviceId;
        if (sender !== e.value.deviceId) {
          options.refuse?.({ sender, claimed: e.value.deviceId, kind: "update_progress" });
          m.ack();
          continue;
        }
        const known = await options.record(e.value);
        // Not known yet: in a supercluster the mirror of the device entries this instance
        // reads may not hold the one it wrote a moment ago. Asked again in a second (for a
        // minute), instead of being lost with the deployment left waiting for the device.
        if (!known && m.info.deliveryCount < 60) m.nak(1000);
        else {
          if (!known) {
            logger?.log("warn", "update progress dropped: no entry for the device", {
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
      logger?.log("warn", "update progress could not be taken; trying again", {
        stream,
        error: String(err),
      });
      await sleep(1000);
    }
  }
}
