/**
 * The cloud service's HTTP application (Hono with zod-openapi). It keeps no state of its own:
 * everything it serves comes from NATS through the dependencies it is given. One central error
 * handler answers problems as application/problem+json; every request gets a request id and a
 * JSON log line; /metrics serves Prometheus metrics; /openapi.json and /docs describe the API.
 *
 * @example
 * ```ts
 * import { createApp } from "./app.ts";
 *
 * const app = createApp({ health: () => Promise.resolve({ ok: true, checks: {} }) });
 * const res = await app.request("/healthz");
 * console.log(res.status); // 200
 * ```
 *
 * @module
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import { liveClients } from "./ui/mod.ts";
import { type FleetDeps, type FleetEnv, Metrics } from "./http/mod.ts";
import type { Logger } from "../runtime/mod.ts";
import type { Health } from "./nats/mod.ts";
import { notFoundProblem, problemOnError, validationHook } from "./_app_errors.ts";
import { requestFrame } from "./_app_requests.ts";
import { authenticate } from "./_app_auth.ts";
import { mountDomains } from "./_app_domains.ts";
import { serveApiDocs } from "./_app_docs.ts";

/** What the application needs from the outside. */
export interface AppDeps {
  /** Checks the service's dependencies. */
  health(): Promise<Health>;
  /** Where request logs and errors go. Default: nowhere. */
  logger?: Logger;
  /** The fleet's state and services; without them only health, metrics and docs are served. */
  fleet?: FleetDeps;
  /** Metrics registry. Default: a new one. */
  metrics?: Metrics;
}

/** Builds the application. */
export function createApp(deps: AppDeps): OpenAPIHono<FleetEnv> {
  const metrics = deps.metrics ?? new Metrics();
  const app = new OpenAPIHono<FleetEnv>({ defaultHook: validationHook });

  app.use("*", requestFrame({ metrics, logger: deps.logger }));
  app.use("*", authenticate({ fleet: deps.fleet, metrics, logger: deps.logger }));

  app.get("/healthz", async (c) => {
    const health = await deps.health();
    return c.json(
      { status: health.ok ? "ok" : "unavailable", checks: health.checks },
      health.ok ? 200 : 503,
    );
  });
  app.get(
    "/metrics",
    (c) => c.text(metrics.render(), 200, { "content-type": "text/plain; version=0.0.4" }),
  );

  if (deps.fleet) mountDomains(app, deps.fleet);
  metrics.gauge("vend_live_clients", "Open dashboard live streams", () => liveClients.count);

  serveApiDocs(app);
  app.notFound(notFoundProblem);
  app.onError(problemOnError({ logger: deps.logger }));

  return app;
}
