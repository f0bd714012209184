/**
 * How the application's failures become problem+json answers: the validation hook of every
 * OpenAPI route, the answer to an unknown route, and the one error handler of the whole app.
 *
 * @module
 */
import type { OpenAPIHonoOptions } from "@hono/zod-openapi";
import type { Context, ErrorHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import { AuthError } from "./auth/mod.ts";
import { ApiError, type FleetEnv, problem } from "./http/mod.ts";
import type { Logger } from "../runtime/mod.ts";
import { ReplicaBehindError } from "./nats/mod.ts";

function fieldOf(path: readonly PropertyKey[], target: string): string {
  return [target, ...path.map(String)].join(".");
}

type ValidationHook = NonNullable<OpenAPIHonoOptions<FleetEnv>["defaultHook"]>;

/** Answers a request its route's schema refuses: 400, naming the first bad field. */
export function validationHook(
  result: Parameters<ValidationHook>[0],
  c: Parameters<ValidationHook>[1],
): Response | undefined {
  if (result.success) return undefined;
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
}

/** Answers a request no route matches: 404. */
export function notFoundProblem(c: Context<FleetEnv>): Response {
  return problem(404, "Not Found", `No route for ${c.req.method} ${new URL(c.req.url).pathname}`, {
    requestId: c.get("requestId"),
  });
}

/**
 * The app's one error handler: known errors become their problem (ApiError's status, 401 for
 * AuthError, 503 with retry-after for ReplicaBehindError, HTTPException's status, 400 for bad
 * JSON); anything else is logged (`request failed`) and answered 500.
 */
export function problemOnError({ logger }: { logger?: Logger | undefined } = {}): ErrorHandler<
  FleetEnv
> {
  return function onProblem(err, c) {
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
    logger?.log("error", "request failed", {
      requestId,
      method: c.req.method,
      path: new URL(c.req.url).pathname,
      error: err.message,
    });
    return problem(500, "Internal Server Error", "The request failed; the error is logged", {
      requestId,
    });
  };
}
