/**
 * The price list routes: operators read the fleet's price lists, admins write them and choose
 * which list each machine sells at. The lists live in the global `prices` bucket (the checkout
 * room's `PriceBook`); a write in any region goes to the primary region's original, and every
 * region reads its mirror. Each resource is a sub-app of its own file (`price_*_api.ts`),
 * composed here.
 *
 * @example
 * ```ts
 * import { OpenAPIHono } from "@hono/zod-openapi";
 * import type { FleetEnv } from "./fleet_api.ts";
 * import { priceApi, type PriceDeps } from "./price_api.ts";
 * declare const deps: PriceDeps;
 *
 * const app = new OpenAPIHono<FleetEnv>();
 * app.route("/", priceApi(deps)); // PUT /price-lists/us, PUT /machines/m001/price-list...
 * ```
 *
 * @module
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import type { FleetEnv } from "./fleet_env.ts";
import { type PriceDeps, priceListsApi } from "./price_lists_api.ts";
import { priceAssignmentsApi } from "./price_assignments_api.ts";

export type { PriceDeps } from "./price_lists_api.ts";

/** The price list routes, as a sub-app to mount at `/`. */
export function priceApi(deps: PriceDeps): OpenAPIHono<FleetEnv> {
  const app = new OpenAPIHono<FleetEnv>();
  // Each sub-app keeps its routes' full paths; the application's validation hook and error
  // handler answer for them.
  app.route("/", priceListsApi(deps));
  app.route("/", priceAssignmentsApi(deps));
  return app;
}
