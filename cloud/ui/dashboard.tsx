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
import { Hono } from "hono";
import type { FleetDeps, FleetEnv } from "../http/mod.ts";
import { dashboardSignIn } from "./dashboard_sign_in.tsx";
import { deviceDashboard } from "./device_dashboard.tsx";
import { fleetDashboard } from "./fleet_dashboard.tsx";

export { liveClients, SESSION_COOKIE } from "./_dashboard_kit.tsx";
export { deploymentsDashboard } from "./deployments_dashboard.tsx";
export { sessionsDashboard } from "./sessions_dashboard.tsx";

/**
 * The dashboard's sign-in, fleet and device pages and their live streams, as a sub-app to mount
 * at `/`. The deployment and session pages are their domains' own ({@link deploymentsDashboard},
 * {@link sessionsDashboard}), mounted beside it when the service has those domains.
 */
export function dashboardApp(deps: FleetDeps): Hono<FleetEnv> {
  const app = new Hono<FleetEnv>();
  app.route("/", dashboardSignIn(deps));
  app.route("/", fleetDashboard(deps));
  app.route("/", deviceDashboard(deps));
  return app;
}
