/**
 * Worker entry of the fleet ingest: runs {@link FleetIngest} on its own thread, with its own NATS
 * connection and replicas, so that parsing tens of thousands of heartbeats a second never holds
 * up the API's event loop. Started by {@link startIngestWorker}.
 *
 * @module
 */
import { jsonLogger } from "../../runtime/mod.ts";
import { connectNats, type RegionLayout, useRegionLayout } from "../nats/mod.ts";
import { FleetIngest, type IngestCounters } from "./fleet_ingest.ts";
import { FleetState } from "./fleet_state.ts";
import { errors } from "@nats-io/nats-core";

/** Messages from the main thread. */
export type IngestWorkerRequest =
  | {
    type: "start";
    natsUrl: string;
    credentialsFile?: string;
    caFile?: string;
    region: string;
    layout: RegionLayout;
    offlineAfterMs: number;
    temperatureLimitC?: number;
  }
  | { type: "stop" };

/** Messages to the main thread. */
export type IngestWorkerReply =
  | { type: "ready" }
  | { type: "counters"; counters: IngestCounters }
  | { type: "failed"; error: string }
  | { type: "stopped" };

interface WorkerScope {
  onmessage: ((e: MessageEvent<IngestWorkerRequest>) => void) | null;
  postMessage(message: IngestWorkerReply): void;
  close(): void;
}

const scope = globalThis as unknown as WorkerScope;
let stop: (() => Promise<void>) | undefined;

scope.onmessage = async (e) => {
  const msg = e.data;
  if (msg.type === "start") {
    try {
      const nc = await connectNats({
        url: msg.natsUrl,
        ...(msg.credentialsFile ? { credentialsFile: msg.credentialsFile } : {}),
        ...(msg.caFile ? { caFile: msg.caFile } : {}),
      }, { name: `vendstream-ingest-${msg.region}` });
      useRegionLayout(nc, msg.layout);
      const logger = jsonLogger("cloud-ingest");
      const state = await FleetState.open(nc, { logger });
      const ingest = new FleetIngest(nc, state, {
        region: msg.region,
        offlineAfterMs: msg.offlineAfterMs,
        ...(msg.temperatureLimitC !== undefined
          ? { temperatureLimitC: msg.temperatureLimitC }
          : {}),
        logger,
      });
      await ingest.ready();
      const timer = setInterval(
        () => scope.postMessage({ type: "counters", counters: { ...ingest.counters } }),
        100,
      );
      stop = async () => {
        clearInterval(timer);
        await ingest.stop();
        await state[Symbol.asyncDispose]();
        await nc.drain().catch((e) => {
          // Closed already (the server went away): nothing to drain. Anything else is said.
          if (!(e instanceof errors.ClosedConnectionError)) {
            logger.log("warn", "draining the NATS connection failed; closing it", {
              error: String(e),
            });
          }
          return nc.close();
        });
      };
      scope.postMessage({ type: "ready" });
    } catch (err) {
      scope.postMessage({ type: "failed", error: (err as Error).message });
    }
  } else if (msg.type === "stop") {
    await stop?.();
    scope.postMessage({ type: "stopped" });
    scope.close();
  }
};
