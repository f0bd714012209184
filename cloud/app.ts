/**
 * The cloud service's HTTP application (Hono). It keeps no state of its own: everything it
 * serves comes from NATS through the dependencies it is given.
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
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import type { Logger } from "./logger.ts";

/** Outcome of a health check: overall and per dependency. */
export interface Health {
  /** True when every check passed. */
  readonly ok: boolean;
  /** Each dependency's result, e.g. `{ nats: "connected", jetstream: "ok" }`. */
  readonly checks: Record<string, string>;
}

/** What the application needs from the outside. */
export interface AppDeps {
  /** Checks the service's dependencies. */
  health(): Promise<Health>;
  /** Where request errors are logged. Default: nowhere. */
  logger?: Logger;
}

/** An RFC 9457 problem document. */
function problem(status: number, title: string, detail: string): Response {
  return new Response(JSON.stringify({ type: "about:blank", title, status, detail }), {
    status,
    headers: { "content-type": "application/problem+json" },
  });
}

/** Builds the application. */
export function createApp(deps: AppDeps): Hono {
  const app = new Hono();

  app.get("/healthz", async (c) => {
    const health = await deps.health();
    return c.json(
      { status: health.ok ? "ok" : "unavailable", checks: health.checks },
      health.ok ? 200 : 503,
    );
  });

  app.notFound((c) =>
    problem(404, "Not Found", `No route for ${c.req.method} ${new URL(c.req.url).pathname}`)
  );

  app.onError((err, c) => {
    if (err instanceof HTTPException) {
      return problem(err.status, err.message || "Error", err.message);
    }
    deps.logger?.log("error", "request failed", {
      method: c.req.method,
      path: new URL(c.req.url).pathname,
      error: err.message,
    });
    return problem(500, "Internal Server Error", "The request failed; the error is logged");
  });

  return app;
}
