/**
 * What the payment routes' sub-apps share: their dependencies, the schemas of ids, SKUs,
 * currencies and sessions, JSON-clean copies, and how a refusal of the payment service becomes a
 * problem+json naming the field.
 *
 * @module
 */
import { z } from "@hono/zod-openapi";
import {
  PaymentDeclinedError,
  ProviderUnavailableError,
  UnknownSkuError,
} from "../../payments/mod.ts";
import {
  PaymentConflictError,
  PaymentNotFoundError,
  type PaymentService,
  PriceListNotFoundError,
  PriceMismatchError,
} from "../checkout/mod.ts";
import type { FleetDeps } from "./fleet_env.ts";
import { ApiError } from "./problem.ts";

/** What the payment routes use. */
export interface PaymentDeps extends FleetDeps {
  /** The payment service. */
  readonly payments: PaymentService;
  /** Stripe's webhook signing secret; without it the webhook route is not served. */
  readonly stripeWebhookSecret?: string;
  /** The service's public base URL (what QR codes point at). Default: each request's origin. */
  readonly publicUrl?: string;
}

/** A customer's, session's or payment method's id. */
export const Id = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{7,63}$/);
/** A product's SKU. */
export const Sku = z.string().regex(/^[A-Z0-9][A-Z0-9_-]{0,31}$/);
/** A machine's id. */
export const MachineId = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/);
/** A payment session (the `PaymentSession` component). */
export const Session = z.object({ sessionId: z.string(), state: z.string() }).passthrough().openapi(
  "PaymentSession",
);
/** An ISO 4217 currency code. */
export const Currency = z.string().regex(/^[A-Z]{3}$/, "expected an ISO 4217 code such as EUR");

/**
 * Throws the payment service's refusal `e` as the problem+json it is, naming `field` (default
 * `path.id`) where a field is to blame; rethrows the rest.
 */
export function translate(e: unknown, field = "path.id"): never {
  if (e instanceof PriceListNotFoundError) {
    // The machine's list: named by the path, or by the body's machine.
    const at = field.startsWith("path.") ? field : "body.machineId";
    throw new ApiError(404, "Not Found", e.message, { field: at, cause: e });
  }
  if (e instanceof PaymentNotFoundError) {
    throw new ApiError(404, "Not Found", e.message, { field, cause: e });
  }
  if (e instanceof PriceMismatchError) {
    throw e.field === "currency"
      ? new ApiError(400, "Currency mismatch", e.message, { field: "body.currency", cause: e })
      : new ApiError(409, "Prices changed", e.message, { field: "body.prices", cause: e });
  }
  if (e instanceof PaymentConflictError) {
    throw new ApiError(409, "Conflict", e.message, { cause: e });
  }
  if (e instanceof UnknownSkuError) {
    throw new ApiError(400, "Refused", e.message, { field: "body.cart", cause: e });
  }
  if (e instanceof RangeError || e instanceof TypeError) {
    throw new ApiError(400, "Refused", e.message, { cause: e });
  }
  if (e instanceof ProviderUnavailableError) {
    throw new ApiError(503, "Payment provider unavailable", e.message, { cause: e });
  }
  if (e instanceof PaymentDeclinedError) {
    throw new ApiError(402, "Declined", e.message, { cause: e });
  }
  throw e;
}
