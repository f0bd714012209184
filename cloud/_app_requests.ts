/**
 * The first middleware of every request: its request id, the body size limit, the request
 * metrics and the request's JSON log line.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { type FleetEnv, MAX_UPLOAD_BYTES, type Metrics, problem } from "./http/mod.ts";
import type { Logger } from "../runtime/mod.ts";

const MAX_BODY = 256 * 1024;
/** Publishing a component version carries its artifacts. */
const MAX_ARTIFACT_BODY = 128 << 20;
const UPLOAD_PATH = /^\/components\/[^/]+\/versions\/[^/]+\/artifacts\/[^/]+$/;

/**
 * Gives each request an id (the caller's `x-request-id` when well formed), refuses a body over
 * its route's limit (413), counts and times the request in `metrics` and logs it (`request`) to
 * `logger`. A declared length is checked at once; a chunked body (no length) of an ordinary route
 * is read here, before authentication or any route, only up to the limit: past it the request is
 * refused and the rest is never read.
 */
export function requestFrame(
  { metrics, logger }: { metrics: Metrics; logger?: Logger | undefined },
): MiddlewareHandler<FleetEnv> {
  const tooLarge = (max: number, requestId: string) =>
    problem(413, "Payload Too Large", `Request bodies are limited to ${max} bytes`, { requestId });
  const limited = bodyLimit({
    maxSize: MAX_BODY,
    onError: (c) => tooLarge(MAX_BODY, c.get("requestId")),
  });
  return async function frame(c, next) {
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
      c.res = tooLarge(max, requestId);
    } else if (max === MAX_BODY) {
      const refused = await limited(c, next);
      if (refused instanceof Response) c.res = refused;
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
    logger?.log("info", "request", {
      requestId,
      method: c.req.method,
      path: new URL(c.req.url).pathname,
      status: c.res.status,
      ms: Math.round(seconds * 10_000) / 10,
      actor: c.get("actor")?.subject ?? null,
    });
  };
}
