/**
 * The door of a customer's session as the machine's devices last reported it: their latest
 * pipeline events, from the device feeds (their regions' EVENTS streams). Imported only by the
 * customer app's session page.
 *
 * @module
 */
import type { FleetDeps } from "../http/mod.ts";

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
      // No stream yet reads as no events: the door is not known.
      for (const e of await deps.deviceFeeds.latestEvents(d.id, { region: d.region })) {
        if ("sessionId" in e && e.sessionId === sessionId) {
          if (e.type === "door_closed") door = "closed";
          else if (e.type === "door_opened" && door !== "closed") door = "open";
        }
      }
    } catch (e) {
      // A read that failed is said; the page shows the rest.
      deps.logger?.log("warn", "the door state could not be read", {
        deviceId: d.id,
        sessionId,
        error: String(e),
      });
    }
  }
  return door;
}
