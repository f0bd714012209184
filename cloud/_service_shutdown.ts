/**
 * The service's stop, in order: the HTTP server, the NATS services and rollouts, the payment
 * tasks (at most 2 s), the services' state, the ingest, the system account's connection, and
 * last the instance's NATS connection.
 *
 * @module
 */
import { errors, type NatsConnection } from "@nats-io/nats-core";
import type { IngestThread } from "./fleet/mod.ts";
import type { Logger } from "../runtime/mod.ts";
import type { TaskGroup } from "./_service_tasks.ts";

/** What a running service stops, named by what it is. */
export interface RunningService {
  /** Aborts the HTTP server. */
  readonly stopServer: AbortController;
  /** The HTTP server (its `finished`). */
  readonly server: { readonly finished: Promise<void> };
  /** The NATS services and rollouts, stopped once the server is. */
  readonly services: TaskGroup;
  /** Payment processing and reconcile rounds, given 2 s. */
  readonly checkout: TaskGroup;
  /** Disposed in this order after the tasks (the planogram push, deployments, prices...). */
  readonly disposables: readonly AsyncDisposable[];
  /** The ingest thread. */
  readonly ingest: IngestThread;
  /** The fleet state, disposed after the ingest. */
  readonly state: AsyncDisposable;
  /** The system account's connection, if provisioning opened one. */
  readonly system: NatsConnection | undefined;
  /** The instance's connection, drained last. */
  readonly nc: NatsConnection;
  /** Where a failing close or drain is said. */
  readonly logger: Logger;
}

/**
 * Returns the service's stop: the first call stops it, every call returns the same promise.
 * When `signal` aborts, the service is stopped (a failure is logged: `stopping failed`).
 */
export function shutdown(
  running: RunningService,
  { signal }: { signal?: AbortSignal | undefined } = {},
): () => Promise<void> {
  const { stopServer, server, services, checkout, disposables, ingest, state, system, nc, logger } =
    running;
  let stopping: Promise<void> | undefined;
  const stop = () =>
    stopping ??= (async () => {
      stopServer.abort();
      await server.finished;
      await services.stop();
      // A consumer waiting on a server that is gone does not hold the stop up.
      await checkout.stop({ graceMs: 2000 });
      for (const disposable of disposables) await disposable[Symbol.asyncDispose]();
      await ingest.stop();
      await state[Symbol.asyncDispose]();
      // Stopping goes on whatever one connection says; what it said is logged.
      await system?.close().catch((e) =>
        logger.log("warn", "closing the system account connection failed", { error: String(e) })
      );
      await nc.drain().catch((e) => {
        // Closed already (the server went away): nothing to drain. Anything else is said.
        if (!(e instanceof errors.ClosedConnectionError)) {
          logger.log("warn", "draining the NATS connection failed; closing it", {
            error: String(e),
          });
        }
        return nc.close();
      });
    })();
  signal?.addEventListener(
    "abort",
    () => stop().catch((e) => logger.log("error", "stopping failed", { error: String(e) })),
    { once: true },
  );
  return stop;
}
