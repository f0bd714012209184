/**
 * A request's authorization: the role a route needs, checked against the request's actor, each
 * refusal audited.
 *
 * @module
 */
import type { Context } from "hono";
import { type Actor, allows, type Role } from "../auth/mod.ts";
import { audit } from "./audit_log.ts";
import type { FleetDeps, FleetEnv } from "./fleet_env.ts";
import { ApiError } from "./problem.ts";

/** Requires a role; refusals are audited. */
export async function need(
  c: Context<FleetEnv>,
  deps: FleetDeps,
  role: Role,
  action: string,
  target: string,
): Promise<Actor> {
  const actor = c.get("actor");
  if (!actor) throw new ApiError(401, "Unauthorized", "A bearer token is required");
  if (!allows(actor, role)) {
    await audit(deps, c, {
      action,
      target,
      outcome: "refused",
      before: null,
      after: null,
      reason: `role ${actor.role} lacks ${role}`,
    });
    throw new ApiError(403, "Forbidden", `Role ${actor.role} may not ${action} (needs ${role})`);
  }
  return actor;
}
