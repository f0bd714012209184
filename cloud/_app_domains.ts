/**
 * The domains' routes, mounted on the application according to which services the fleet's
 * dependencies carry.
 *
 * @module
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import { customerAppRoutes, dashboardRoutes } from "./ui/mod.ts";
import {
  type FleetDeps,
  type FleetEnv,
  fleetRoutes,
  paymentRoutes,
  priceRoutes,
  provisioningRoutes,
  updateRoutes,
} from "./http/mod.ts";

/**
 * Adds to `app` the dashboard and the fleet API, then each domain whose service `fleet` carries:
 * updates (registry and deployments), payments, prices, provisioning, and the customer app
 * (payments and customer sign-in).
 */
export function mountDomains(app: OpenAPIHono<FleetEnv>, fleet: FleetDeps): void {
  dashboardRoutes(app, fleet);
  fleetRoutes(app, fleet);
  const { registry, deployments } = fleet;
  if (registry && deployments) updateRoutes(app, { ...fleet, registry, deployments });
  const payments = fleet.payments;
  if (payments) paymentRoutes(app, { ...fleet, payments });
  const prices = fleet.prices;
  if (prices) priceRoutes(app, { ...fleet, prices });
  const provisioning = fleet.provisioning;
  if (provisioning) provisioningRoutes(app, { ...fleet, provisioning });
  const customerAuth = fleet.customerAuth;
  if (payments && customerAuth) customerAppRoutes(app, { ...fleet, payments, customerAuth });
}
