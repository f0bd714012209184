/**
 * Stripe's webhook (`POST /payments/webhooks/stripe`): verified by its signature with the
 * endpoint's secret instead of a token; a dispute or a hold cancelled at Stripe changes its
 * session.
 *
 * @module
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { readStripeWebhook, WebhookSignatureError } from "../../payments/mod.ts";
import type { FleetEnv } from "./fleet_env.ts";
import { json, problemResponses } from "./openapi_common.ts";
import { ApiError } from "./problem.ts";
import { type PaymentDeps, translate } from "./_payment_common.ts";

const stripeWebhook = createRoute({
  method: "post",
  path: "/payments/webhooks/stripe",
  tags: ["payments"],
  summary: "Stripe's webhook (signed with the endpoint's secret; no bearer token): disputes, " +
    "holds cancelled at Stripe",
  request: {
    // The body (a Stripe event) is not declared: a validator would parse it, and the
    // signature covers the raw bytes.
    headers: z.object({ "stripe-signature": z.string().max(2000).optional() }),
  },
  responses: {
    200: json(
      z.object({
        received: z.boolean(),
        handled: z.boolean(),
        sessionId: z.string().nullable(),
      }),
      "Received (`handled`: whether it changed a session)",
    ),
    ...problemResponses,
  },
});

/**
 * Stripe's webhook route (`POST /payments/webhooks/stripe`), its events checked against `secret`
 * (the endpoint's signing secret) and handed to `deps.payments`.
 */
export function stripeWebhookApi(deps: PaymentDeps, secret: string): OpenAPIHono<FleetEnv> {
  const p = deps.payments;
  const app = new OpenAPIHono<FleetEnv>();
  app.openapi(stripeWebhook, async (c) => {
    const payload = await c.req.text();
    let event;
    try {
      event = await readStripeWebhook(payload, {
        header: c.req.header("stripe-signature") ?? null,
        secret,
      });
    } catch (e) {
      if (e instanceof WebhookSignatureError) {
        throw new ApiError(400, "Invalid webhook signature", e.message, {
          field: "header.stripe-signature",
          cause: e,
        });
      }
      if (e instanceof TypeError) {
        throw new ApiError(400, "Invalid webhook event", e.message, { field: "body", cause: e });
      }
      throw e;
    }
    const s = event ? await p.providerEvent(event).catch((e) => translate(e)) : undefined;
    return c.json(
      { received: true, handled: s !== undefined, sessionId: s?.sessionId ?? null },
      200,
    );
  });
  return app;
}
