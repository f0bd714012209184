/**
 * The live operations dashboard: server-rendered pages (hono/jsx) kept live over Server-Sent
 * Events fed by the fleet's replicas and NATS subjects, with a little client script. Fleet page:
 * counts by status, region and version, a sortable, filterable, paginated device table, and
 * alerts. Device page: status, door, telemetry charts over the last hour, command buttons.
 * Deployments: progress per device, pause, resume, abort. Sessions and the review queue are in
 * `sessions_dashboard.tsx`.
 * Updates to a page are coalesced to at most 2 per second and carry only what is on screen.
 *
 * Each page is a sub-app in its own file (`dashboard_sign_in.tsx`, `fleet_dashboard.tsx`,
 * `device_dashboard.tsx`, `deployments_dashboard.tsx`), composed here.
 *
 * @module
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { FleetDeps, FleetEnv } from "../http/mod.ts";
import { dashboardSignIn } from "./dashboard_sign_in.tsx";
import { deploymentsDashboard } from "./deployments_dashboard.tsx";
import { deviceDashboard } from "./device_dashboard.tsx";
import { fleetDashboard } from "./fleet_dashboard.tsx";
import { sessionsDashboardRoutes } from "./sessions_dashboard.tsx";

export { liveClients, SESSION_COOKIE } from "./_dashboard_kit.tsx";

/** Adds the dashboard's pages and live streams to `app`. */
export function dashboardRoutes(app: OpenAPIHono<FleetEnv>, deps: FleetDeps): void {
  if (deps.payments) sessionsDashboardRoutes(app, { ...deps, payments: deps.payments });
  app.route("/", dashboardSignIn(deps));
  app.route("/", fleetDashboard(deps));
  app.route("/", deviceDashboard(deps));
  app.route("/", deploymentsDashboard(deps));
}
