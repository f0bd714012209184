/**
 * Pages: the operators' dashboard and sessions pages, and the customers' app.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import type { FleetDeps, FleetEnv } from "../http/mod.ts";
 * import { dashboardApp } from "./mod.ts";
 * declare const deps: FleetDeps;
 *
 * const app = new Hono<FleetEnv>();
 * app.route("/", dashboardApp(deps)); // GET /, /devices/:id, /live/fleet...
 * ```
 *
 * @module
 */
export { accuracyDashboard } from "./accuracy_dashboard.tsx";
export { CUSTOMER_COOKIE, customerApp, type CustomerAppDeps } from "./customer_app.tsx";
export {
  dashboardApp,
  deploymentsDashboard,
  liveClients,
  SESSION_COOKIE,
  sessionsDashboard,
} from "./dashboard.tsx";
export { planogramDashboard } from "./planogram_dashboard.tsx";
