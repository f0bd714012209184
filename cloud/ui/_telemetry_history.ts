/**
 * A device's telemetry over the last hour, read straight from its region's TELEMETRY stream (a
 * raw JetStream read, not yet a service's). Imported only by the device page.
 *
 * @module
 */
import { DeliverPolicy, jetstream } from "@nats-io/jetstream";
import { parseTelemetry, subjects, type Telemetry } from "../../protocol/mod.ts";
import type { FleetDeps } from "../http/mod.ts";
import { isStreamNotFound } from "../nats/mod.ts";

/** The device's telemetry of the last hour (at most 500 reports); none without a stream. */
export async function telemetryHistory(
  deps: FleetDeps,
  { region, deviceId }: { readonly region: string; readonly deviceId: string },
): Promise<Telemetry[]> {
  const js = jetstream(deps.nc);
  const out: Telemetry[] = [];
  try {
    const consumer = await js.consumers.get(`TELEMETRY_${region.toUpperCase()}`, {
      filter_subjects: subjects.telemetry({ region, deviceId }),
      deliver_policy: DeliverPolicy.StartTime,
      opt_start_time: new Date(Date.now() - 3_600_000).toISOString(),
    });
    if ((await consumer.info()).num_pending === 0) return out;
    const batch = await consumer.fetch({ max_messages: 500, expires: 1000 });
    for await (const m of batch) {
      const t = parseTelemetry(m.data);
      if (t.ok) out.push(t.value);
      if (m.info.pending === 0) break;
    }
  } catch (e) {
    // The region has no telemetry stream (yet): no charts. A read that fails propagates.
    if (!isStreamNotFound(e)) throw e;
  }
  return out;
}
