/**
 * What the update routes' sub-apps share: their dependencies, the component name schema, and
 * how a refusal of the registry or the deployments becomes a problem+json naming the field.
 *
 * @module
 */
import { z } from "@hono/zod-openapi";
import { ComponentError, type ComponentRegistry, type DeploymentService } from "../updates/mod.ts";
import type { FleetDeps } from "./fleet_api.ts";
import { ApiError } from "./problem.ts";

/** What the update routes use. */
export interface UpdateDeps extends FleetDeps {
  readonly registry: ComponentRegistry;
  readonly deployments: DeploymentService;
}

/** A component's name. */
export const ComponentName = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/);

/** Throws a {@link ComponentError} as a 400 naming its field under `prefix`; rethrows the rest. */
export function refused(e: unknown, prefix: string): never {
  if (e instanceof ComponentError) {
    throw new ApiError(400, "Refused", e.message, { field: `${prefix}${e.field}`, cause: e });
  }
  throw e;
}
