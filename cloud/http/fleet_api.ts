/**
 * The fleet API: devices and machines, groups, regions, device shadows, commands, alerts and
 * the audit log, over the state in JetStream. Every route is described by zod schemas that
 * also generate the OpenAPI document. Each resource is a sub-app of its own file
 * (`fleet_*_api.ts`), composed here; the helpers the API's routers share are re-exported here
 * from their own files.
 *
 * @module
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import type { FleetDeps, FleetEnv } from "./fleet_env.ts";
import { alertsApi } from "./fleet_alerts_api.ts";
import { auditApi } from "./fleet_audit_api.ts";
import { commandsApi } from "./fleet_commands_api.ts";
import { devicesApi } from "./fleet_devices_api.ts";
import { groupsApi } from "./fleet_groups_api.ts";
import { machinesApi } from "./fleet_machines_api.ts";
import { regionsApi } from "./fleet_regions_api.ts";
import { shadowApi } from "./fleet_shadow_api.ts";
import { tokensApi } from "./fleet_tokens_api.ts";

export type { FleetDeps, FleetEnv } from "./fleet_env.ts";
export { json, Problem, problemResponses, security } from "./openapi_common.ts";
export { audit } from "./audit_log.ts";
export { need } from "./need_role.ts";
export { plain } from "./plain.ts";
export { etag, ifMatch } from "./etag.ts";

/** The fleet routes, as a sub-app to mount at `/`. */
export function fleetApi(deps: FleetDeps): OpenAPIHono<FleetEnv> {
  const app = new OpenAPIHono<FleetEnv>();
  // Each sub-app keeps its routes' full paths; the application's validation hook and error
  // handler answer for them.
  app.route("/", tokensApi(deps));
  app.route("/", devicesApi(deps));
  app.route("/", machinesApi(deps));
  app.route("/", regionsApi(deps));
  app.route("/", groupsApi(deps));
  app.route("/", shadowApi(deps));
  app.route("/", commandsApi(deps));
  app.route("/", alertsApi(deps));
  app.route("/", auditApi(deps));
  return app;
}
