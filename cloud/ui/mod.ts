/**
 * Pages: the operators' dashboard and sessions pages, and the customers' app.
 *
 * @example
 * ```ts
 * import { dashboardRoutes } from "./mod.ts";
 *
 * console.log(typeof dashboardRoutes);
 * ```
 *
 * @module
 */
export { CUSTOMER_COOKIE, type CustomerAppDeps, customerAppRoutes } from "./customer_app.tsx";
export { dashboardRoutes, liveClients, SESSION_COOKIE } from "./dashboard.tsx";
