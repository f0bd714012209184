/**
 * The service's HTTP API: the application over the fleet's dependencies, listening.
 *
 * @module
 */
import { createApp, type Mount } from "./app.ts";
import type { FleetDeps, Metrics } from "./http/mod.ts";
import { natsHealth } from "./nats/mod.ts";
import type { Logger } from "../runtime/mod.ts";
import { listen, type ServeTls } from "./_service_listen.ts";

/** The listening API. */
export interface ServedApi {
  /** Base URL, e.g. `http://127.0.0.1:8080`. */
  readonly url: string;
  /** The HTTP server. */
  readonly server: Deno.HttpServer<Deno.NetAddr>;
  /** Aborts the server. */
  readonly stopServer: AbortController;
}

/**
 * Builds the application over `fleet` (health from its NATS connection) with the domains'
 * `mounts` and serves it on `hostname:port` (HTTPS with `tls`); logs `api listening` with
 * `natsUrl`.
 */
export function serveApi(
  fleet: FleetDeps,
  { mounts, logger, metrics, hostname, port, tls, natsUrl }: {
    mounts: readonly Mount[];
    logger: Logger;
    metrics: Metrics;
    hostname: string;
    port: number;
    tls: ServeTls | undefined;
    natsUrl: string;
  },
): ServedApi {
  const app = createApp({ health: () => natsHealth(fleet.nc), logger, metrics, fleet, mounts });
  const stopServer = new AbortController();
  const server = listen(app.fetch, { hostname, port, signal: stopServer.signal, tls });
  const url = `${tls ? "https" : "http"}://${server.addr.hostname}:${server.addr.port}`;
  logger.log("info", "api listening", { url, nats: natsUrl, region: fleet.region });
  return { url, server, stopServer };
}
