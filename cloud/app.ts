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
 * The service mounts its domains' sub-apps (`fleetApi`, `updateApi`, `dashboardApp`, ...) through
 * `mounts`:
 *
 * ```ts
 * import { createApp } from "./app.ts";
 * import { fleetApi, type FleetDeps } from "./http/mod.ts";
 * declare const fleet: FleetDeps;
 *
 * const app = createApp({
 *   health: () => Promise.resolve({ ok: true, checks: {} }),
 *   fleet,
 *   mounts: [{ path: "/", app: fleetApi(fleet) }],
 * });
 * ```
 *
 * @module
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import type { Hono } from "hono";
import { liveClients } from "./ui/mod.ts";
import { type FleetDeps, type FleetEnv, Metrics } from "./http/mod.ts";
import type { Logger } from "../runtime/mod.ts";
import type { Health } from "./nats/mod.ts";
import { notFoundProblem, problemOnError, validationHook } from "./_app_errors.ts";
import { requestFrame } from "./_app_requests.ts";
import { authenticate } from "./_app_auth.ts";
import { serveApiDocs } from "./_app_docs.ts";

/** A domain's sub-app and the path it is mounted at. */
export interface Mount {
  /** Where: `/` for a sub-app whose routes carry their full paths. */
  readonly path: string;
  /** The sub-app (an `OpenAPIHono` one adds its routes to the OpenAPI document). */
  readonly app: Hono<FleetEnv>;
}

/** What the application needs from the outside. */
export interface AppDeps {
  /** Checks the service's dependencies. */
  health(): Promise<Health>;
  /** Where request logs and errors go. Default: nowhere. */
  logger?: Logger;
  /** Who may ask (tokens) and where refusals are audited; without it every request is anonymous. */
  fleet?: FleetDeps;
  /** The domains' sub-apps, mounted in this order (a page before the API route it falls through to). */
  mounts?: readonly Mount[];
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

  if (deps.fleet) {
    app.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
      type: "http",
      scheme: "bearer",
      bearerFormat: "JWT",
    });
  }
  for (const mount of deps.mounts ?? []) app.route(mount.path, mount.app);
  metrics.gauge("vend_live_clients", "Open dashboard live streams", () => liveClients.count);

  serveApiDocs(app);
  app.notFound(notFoundProblem);
  app.onError(problemOnError({ logger: deps.logger }));

  return app;
}
