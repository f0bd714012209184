/**
 * Runs the fleet ingest on a worker thread (see ingest_worker.ts) and mirrors its counters.
 *
 * @module
 */
import { type NatsTarget, type RegionLayout, SINGLE_SERVER } from "../nats/mod.ts";
import { type IngestCounters, newIngestCounters } from "./fleet_ingest.ts";
import type { IngestWorkerReply, IngestWorkerRequest } from "./ingest_worker.ts";

/** The ingest running on its own thread. */
export interface IngestThread {
  /** The latest counters the worker reported (about every 100 ms). */
  readonly counters: IngestCounters;
  /** Stops the worker after it drained its connection. */
  stop(): Promise<void>;
}

/** Starts the ingest on a worker thread; resolves once it consumes. */
export function startIngestThread(
  nats: NatsTarget,
  options: {
    region: string;
    offlineAfterMs: number;
    temperatureLimitC?: number;
    /** Where the buckets live. Default a single server's. */
    layout?: RegionLayout;
  },
): Promise<IngestThread> {
  const worker = new Worker(new URL("./ingest_worker.ts", import.meta.url), { type: "module" });
  const counters: IngestCounters = newIngestCounters();
  let stopped: (() => void) | undefined;
  return new Promise((resolve, reject) => {
    worker.onerror = (e) => {
      e.preventDefault();
      reject(new Error(`Ingest worker failed: ${e.message}`));
    };
    worker.onmessage = (e: MessageEvent<IngestWorkerReply>) => {
      const msg = e.data;
      if (msg.type === "counters") Object.assign(counters, msg.counters);
      else if (msg.type === "failed") {
        worker.terminate();
        reject(new Error(`Cannot start the ingest: ${msg.error}`));
      } else if (msg.type === "stopped") stopped?.();
      else if (msg.type === "ready") {
        resolve({
          counters,
          stop: () =>
            new Promise<void>((done) => {
              const timer = setTimeout(() => {
                worker.terminate();
                done();
              }, 5000);
              stopped = () => {
                clearTimeout(timer);
                done();
              };
              worker.postMessage({ type: "stop" } satisfies IngestWorkerRequest);
            }),
        });
      }
    };
    worker.postMessage(
      {
        type: "start",
        natsUrl: nats.url,
        ...(nats.credentialsFile ? { credentialsFile: nats.credentialsFile } : {}),
        ...(nats.caFile ? { caFile: nats.caFile } : {}),
        ...options,
        layout: options.layout ?? SINGLE_SERVER,
      } satisfies IngestWorkerRequest,
    );
  });
}
