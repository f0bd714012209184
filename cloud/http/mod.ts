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
export { audit, fleetApi, type FleetDeps, type FleetEnv } from "./fleet_api.ts";
export { clientAddress } from "./client_address.ts";
export { cardNumberGuard, containsCardNumber } from "./card_number_guard.ts";
export { paymentApi, type PaymentDeps } from "./payment_api.ts";
export { accuracyView, fieldAccuracyApi } from "./field_accuracy_api.ts";
export { type DatasetDeps, fieldDatasetsApi, sampleSummary } from "./field_datasets_api.ts";
export { priceApi, type PriceDeps } from "./price_api.ts";
export { machineCalibration, planogramApi, type PlanogramDeps } from "./planogram_api.ts";
export { ApiError, problem } from "./problem.ts";
export { Metrics } from "./prometheus.ts";
export { provisioningApi, type ProvisioningDeps } from "./provisioning_api.ts";
export { MAX_UPLOAD_BYTES, updateApi, type UpdateDeps } from "./update_api.ts";
export { shadowComparisonApi, type ShadowDeps } from "./update_shadow_api.ts";
