/**
 * The HTTP API's routes (fleet, payments, prices, provisioning, updates), the problem+json error,
 * and the service's Prometheus metrics.
 *
 * @example
 * ```ts
 * import { ApiError } from "./mod.ts";
 *
 * throw new ApiError(404, "not found", "No such device");
 * ```
 *
 * @module
 */
export { audit, type FleetDeps, type FleetEnv, fleetRoutes } from "./fleet_api.ts";
export { cardNumberGuard, containsCardNumber } from "./card_number_guard.ts";
export { type PaymentDeps, paymentRoutes } from "./payment_api.ts";
export { priceRoutes } from "./price_api.ts";
export { ApiError, problem } from "./problem.ts";
export { Metrics } from "./prometheus.ts";
export { provisioningRoutes } from "./provisioning_api.ts";
export { MAX_UPLOAD_BYTES, updateRoutes } from "./update_api.ts";
