/**
 * The heartbeat and telemetry ingest: started on its own thread, its counters exposed as
 * metrics.
 *
 * @module
 */
import { type FleetState, type IngestThread, startIngestThread } from "./fleet/mod.ts";
import type { Metrics } from "./http/mod.ts";
import type { NatsTarget, RegionLayout } from "./nats/mod.ts";

/** Starts the ingest thread; a device silent `offlineAfterMs` (at least 500) is offline. */
export async function startIngest(
  target: NatsTarget,
  { region, offlineAfterMs, layout }: {
    region: string;
    offlineAfterMs: number;
    layout: RegionLayout;
  },
): Promise<IngestThread> {
  if (!Number.isInteger(offlineAfterMs) || offlineAfterMs < 500) {
    throw new RangeError(
      `Invalid offline timeout ${offlineAfterMs} ms: expected an integer of at least 500`,
    );
  }
  return await startIngestThread(target, { region, offlineAfterMs, layout });
}

/** Adds the ingest's counters (`vend_ingest_*`) and the known devices' count to `metrics`. */
export function countIngest(
  metrics: Metrics,
  { ingest, state }: { ingest: IngestThread; state: FleetState },
): void {
  for (
    const [name, help] of Object.entries({
      heartbeats: "Heartbeats ingested",
      telemetry: "Telemetry reports ingested",
      invalid: "Messages refused by their schema",
      impersonated: "Reports refused: their body names another device than their subject",
      statusWrites: "Device status writes to KV",
      offlineMarked: "Devices marked offline",
      alertsRaised: "Alerts raised",
    })
  ) {
    metrics.gauge(
      `vend_ingest_${name.replace(/[A-Z]/g, (m) => `_${m.toLowerCase()}`)}_total`,
      help,
      () => ingest.counters[name as keyof typeof ingest.counters],
    );
  }
  metrics.gauge(
    "vend_ingest_queued_writes",
    "Status writes waiting for the KV store",
    () => ingest.counters.queuedWrites,
  );
  metrics.gauge("vend_devices_known", "Devices with a status", () => state.statuses.size);
}
