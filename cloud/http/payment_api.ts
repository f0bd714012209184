/**
 * HTTP routes of payments: customers and their payment methods (provider tokens only), payment
 * sessions (start at a machine, read), the review queue (list, correct or approve), refunds and
 * disputes, each machine's price list, and field accuracy per machine and model version. Refusals are problem+json naming the field: a negative
 * or fractional amount, an unknown SKU, a cart above the hold, a session that does not exist, a
 * refund above the capture; nothing changes then. A request that carries what looks like a card
 * number is refused before it reaches a route (see {@link cardNumberGuard}) and never logged.
 *
 * Stripe's webhook (`POST /payments/webhooks/stripe`, served when a signing secret is configured)
 * is verified by its signature instead of a token.
 *
 * Customer-facing calls need an operator token for now (the customer app's backend calls them on
 * the customer's behalf); reviews, refunds and disputes are operator actions, audited. Each
 * resource is a sub-app of its own file (`payment_*_api.ts`), composed here.
 *
 * @module
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import type { FleetEnv } from "./fleet_env.ts";
import { cardNumberGuard } from "./card_number_guard.ts";
import type { PaymentDeps } from "./_payment_common.ts";
import { afterSaleApi } from "./payment_after_sale_api.ts";
import { customersApi } from "./payment_customers_api.ts";
import { paymentMachinesApi } from "./payment_machines_api.ts";
import { fieldAccuracyApi } from "./field_accuracy_api.ts";
import { paymentSessionsApi } from "./payment_sessions_api.ts";
import { stripeWebhookApi } from "./payment_stripe_webhook_api.ts";

export type { PaymentDeps } from "./_payment_common.ts";

/** The payment routes, as a sub-app to mount at `/`. */
export function paymentApi(deps: PaymentDeps): OpenAPIHono<FleetEnv> {
  const app = new OpenAPIHono<FleetEnv>();
  // The guard comes before every route under these paths, known or not.
  const guard = cardNumberGuard();
  app.use("/customers/*", guard);
  app.use("/customers", guard);
  app.use("/payments/*", guard);

  // Each sub-app keeps its routes' full paths; the application's validation hook and error
  // handler answer for them.
  app.route("/", customersApi(deps));
  app.route("/", paymentMachinesApi(deps));
  app.route("/", fieldAccuracyApi(deps));
  app.route("/", paymentSessionsApi(deps));
  app.route("/", afterSaleApi(deps));
  const secret = deps.stripeWebhookSecret;
  if (secret) app.route("/", stripeWebhookApi(deps, secret));
  return app;
}
