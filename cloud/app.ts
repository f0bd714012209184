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
import { HTTPException } from "hono/http-exception";
import { AuthError, type TokenService } from "./auth/mod.ts";
import { getCookie } from "hono/cookie";
import { customerAppRoutes, dashboardRoutes, liveClients, SESSION_COOKIE } from "./ui/mod.ts";
import {
  ApiError,
  audit,
  type FleetDeps,
  type FleetEnv,
  fleetRoutes,
  MAX_UPLOAD_BYTES,
  Metrics,
  paymentRoutes,
  priceRoutes,
  problem,
  provisioningRoutes,
  updateRoutes,
} from "./http/mod.ts";
import type { Logger } from "../runtime/mod.ts";
import { type Health, ReplicaBehindError } from "./nats/mod.ts";

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

const MAX_BODY = 256 * 1024;
/** Publishing a component version carries its artifacts. */
const MAX_ARTIFACT_BODY = 128 << 20;
const UPLOAD_PATH = /^\/components\/[^/]+\/versions\/[^/]+\/artifacts\/[^/]+$/;

function fieldOf(path: readonly PropertyKey[], target: string): string {
  return [target, ...path.map(String)].join(".");
}

/** Builds the application. */
export function createApp(deps: AppDeps): OpenAPIHono<FleetEnv> {
  const metrics = deps.metrics ?? new Metrics();
  const app = new OpenAPIHono<FleetEnv>({
    defaultHook: (result, c) => {
      if (result.success) return;
      const issue = result.error.issues[0];
      const target = result.target === "json" ? "body" : result.target;
      const field = issue
        ? fieldOf(
          issue.code === "unrecognized_keys" ? [...issue.path, issue.keys[0] ?? ""] : issue.path,
          target,
        )
        : target;
      const reason = issue?.code === "unrecognized_keys"
        ? "unknown field"
        : issue?.message ?? "invalid";
      return problem(400, "Invalid request", `field "${field}": ${reason}`, {
        field,
        requestId: c.get("requestId"),
      });
    },
  });

  app.use("*", async (c, next) => {
    const requestId = /^[A-Za-z0-9_-]{1,64}$/.test(c.req.header("x-request-id") ?? "")
      ? c.req.header("x-request-id")!
      : crypto.randomUUID();
    c.set("requestId", requestId);
    c.set("actor", undefined);
    const start = performance.now();
    const length = Number(c.req.header("content-length") ?? "0");
    // Uploads are counted as they stream (the route refuses past its limit); a declared length
    // over it is refused here already.
    const max = c.req.path === "/components/versions"
      ? MAX_ARTIFACT_BODY
      : c.req.method === "PUT" && UPLOAD_PATH.test(c.req.path)
      ? MAX_UPLOAD_BYTES
      : MAX_BODY;
    if (length > max) {
      c.res = problem(413, "Payload Too Large", `Request bodies are limited to ${max} bytes`, {
        requestId,
      });
    } else {
      await next();
    }
    c.header("X-Request-Id", requestId);
    const route = c.req.routePath ?? "unmatched";
    const seconds = (performance.now() - start) / 1000;
    metrics.inc("http_requests_total", "HTTP requests", {
      method: c.req.method,
      route,
      status: String(c.res.status),
    });
    metrics.observe("http_request_duration_seconds", "HTTP request latency", {
      method: c.req.method,
      route,
    }, seconds);
    deps.logger?.log("info", "request", {
      requestId,
      method: c.req.method,
      path: new URL(c.req.url).pathname,
      status: c.res.status,
      ms: Math.round(seconds * 10_000) / 10,
      actor: c.get("actor")?.subject ?? null,
    });
  });

  const tokens: TokenService | undefined = deps.fleet?.tokens;
  app.use("*", async (c, next) => {
    const header = c.req.header("authorization");
    if (header !== undefined && tokens) {
      const m = /^Bearer ([A-Za-z0-9_.-]{10,4096})$/.exec(header);
      if (!m) {
        return problem(401, "Unauthorized", "Authorization must be `Bearer <token>`", {
          requestId: c.get("requestId"),
        });
      }
      try {
        c.set("actor", await tokens.verify(m[1]!));
      } catch (e) {
        // A forged, expired or foreign token: refused, and audited.
        const fleet = deps.fleet;
        if (fleet) {
          await audit(fleet, c, {
            action: "auth.token_refused",
            target: `${c.req.method} ${c.req.path}`.slice(0, 200),
            outcome: "refused",
            before: null,
            after: null,
            reason: (e as Error).message.slice(0, 200),
          }).catch((err) => {
            // The token is refused all the same; the lost audit entry is said and counted.
            metrics.inc(
              "vend_audit_write_failures_total",
              "Audit entries that could not be written",
            );
            deps.logger?.log("warn", "refused token not audited", { error: String(err) });
          });
        }
        return problem(401, "Unauthorized", (e as Error).message, {
          requestId: c.get("requestId"),
        });
      }
    } else if (tokens) {
      // The dashboard's session cookie; a changing request must also carry the CSRF header,
      // which a cross-site form or link cannot set.
      const cookie = getCookie(c, SESSION_COOKIE);
      const safe = c.req.method === "GET" || c.req.method === "HEAD" ||
        c.req.header("x-vend-csrf") === "1";
      if (cookie && safe) {
        try {
          c.set("actor", await tokens.verify(cookie));
        } catch (e) {
          // An invalid session is simply not signed in; anything else is the server's failure.
          if (!(e instanceof AuthError)) throw e;
        }
      }
    }
    await next();
    return undefined;
  });

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
    dashboardRoutes(app, deps.fleet);
    fleetRoutes(app, deps.fleet);
    const { registry, deployments } = deps.fleet;
    if (registry && deployments) updateRoutes(app, { ...deps.fleet, registry, deployments });
    const payments = deps.fleet.payments;
    if (payments) paymentRoutes(app, { ...deps.fleet, payments });
    const prices = deps.fleet.prices;
    if (prices) priceRoutes(app, { ...deps.fleet, prices });
    const provisioning = deps.fleet.provisioning;
    if (provisioning) provisioningRoutes(app, { ...deps.fleet, provisioning });
    const customerAuth = deps.fleet.customerAuth;
    if (payments && customerAuth) customerAppRoutes(app, { ...deps.fleet, payments, customerAuth });
  }
  metrics.gauge("vend_live_clients", "Open dashboard live streams", () => liveClients.count);

  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "Vendstream fleet API",
      version: "1",
      description: "Fleet state, device shadows, commands, alerts and audit over NATS JetStream",
    },
  });
  app.get(
    "/docs",
    (c) =>
      c.html(`<!doctype html><html><head><meta charset="utf-8"><title>Vendstream API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head><body><div id="ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({ url: "/openapi.json", dom_id: "#ui" });</script></body></html>`),
  );
  app.get("/docs/assets/:file{swagger-ui\\.css|swagger-ui-bundle\\.js}", async (c) => {
    const file = c.req.param("file");
    const res = await fetch(import.meta.resolve(`swagger-ui-dist/${file}`));
    return new Response(res.body, {
      headers: {
        "content-type": file.endsWith(".css") ? "text/css" : "text/javascript",
        "cache-control": "max-age=3600",
      },
    });
  });

  app.notFound((c) =>
    problem(404, "Not Found", `No route for ${c.req.method} ${new URL(c.req.url).pathname}`, {
      requestId: c.get("requestId"),
    })
  );

  app.onError((err, c) => {
    const requestId = c.get("requestId");
    if (err instanceof ApiError) {
      return problem(err.status, err.title, err.message, {
        ...(err.field ? { field: err.field } : {}),
        requestId,
      });
    }
    if (err instanceof AuthError) return problem(401, "Unauthorized", err.message, { requestId });
    if (err instanceof ReplicaBehindError) {
      // The region's copy of the global registry may be behind and the primary does not answer.
      const res = problem(503, "Service Unavailable", err.message, { requestId });
      res.headers.set("retry-after", "2");
      return res;
    }
    if (err instanceof HTTPException) {
      const status = err.status;
      return problem(
        status,
        status === 400 ? "Invalid request" : "Error",
        err.message || "Request refused",
        { requestId },
      );
    }
    if (err instanceof SyntaxError) {
      return problem(400, "Invalid request", `The body is not valid JSON: ${err.message}`, {
        field: "body",
        requestId,
      });
    }
    deps.logger?.log("error", "request failed", {
      requestId,
      method: c.req.method,
      path: new URL(c.req.url).pathname,
      error: err.message,
    });
    return problem(500, "Internal Server Error", "The request failed; the error is logged", {
      requestId,
    });
  });

  return app;
}
