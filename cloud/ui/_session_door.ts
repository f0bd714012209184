/**
 * The door of a customer's session as the machine's devices last reported it: read straight
 * from the region's EVENTS streams (a raw JetStream read, not yet a service's). Imported only by
 * the customer app's session page.
 *
 * @module
 */
import { DeliverPolicy, jetstream } from "@nats-io/jetstream";
import { filters, parsePipelineEvent } from "../../protocol/mod.ts";
import type { FleetDeps } from "../http/mod.ts";
import { isStreamNotFound } from "../nats/mod.ts";

/**
 * The door in this session: from the latest door events of the machine's devices in the
 * EVENTS stream (the last of each type per device), when they carry this session's id.
 */
export async function doorOf(
  deps: FleetDeps,
  { machineId, sessionId }: { readonly machineId: string; readonly sessionId: string },
): Promise<string | undefined> {
  const devices = [...deps.state.statuses.entries()]
    .filter(([, e]) => e.value.machineId === machineId)
    .map(([id, e]) => ({ id, region: e.value.region }));
  let door: string | undefined;
  for (const d of devices) {
    try {
      const consumer = await jetstream(deps.nc).consumers.get(
        `EVENTS_${d.region.toUpperCase()}`,
        {
          filter_subjects: filters.pipelineEvents({ region: d.region, deviceId: d.id }),
          deliver_policy: DeliverPolicy.LastPerSubject,
        },
      );
      if ((await consumer.info()).num_pending === 0) continue;
      for await (const m of await consumer.fetch({ max_messages: 50, expires: 1000 })) {
        const e = parsePipelineEvent(m.data);
        if (e.ok && "sessionId" in e.value && e.value.sessionId === sessionId) {
          if (e.value.type === "door_closed") door = "closed";
          else if (e.value.type === "door_opened" && door !== "closed") door = "open";
        }
        if (m.info.pending === 0) break;
      }
    } catch (e) {
      // No stream yet: the door is not known. Any other failure is said; the page shows the rest.
      if (!isStreamNotFound(e)) {
        deps.logger?.log("warn", "the door state could not be read", {
          deviceId: d.id,
          sessionId,
          error: String(e),
        });
      }
    }
  }
  return door;
}
