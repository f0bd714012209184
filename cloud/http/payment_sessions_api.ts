/**
 * The payment session routes: start a session at a machine (hold, then unlock), read one, the
 * sessions that changed most recently, and the review queue (list, correct or approve a cart;
 * each decision audited).
 *
 * @module
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { audit } from "./audit_log.ts";
import type { FleetEnv } from "./fleet_env.ts";
import { need } from "./need_role.ts";
import { json, problemResponses, security } from "./openapi_common.ts";
import {
  Currency,
  Id,
  MachineId,
  type PaymentDeps,
  Session,
  Sku,
  translate,
} from "./_payment_common.ts";
import { plain } from "./plain.ts";

const Cart = z.array(z.strictObject({ sku: Sku, qty: z.int().min(1).max(1000) })).max(200);
const Detail = z.object({
  session: Session,
  lineConfidence: z.record(z.string(), z.number()).nullable(),
  closedAt: z.int().nullable(),
  receiptAt: z.int().nullable(),
}).openapi("PaymentSessionDetail");

const startSession = createRoute({
  method: "post",
  path: "/payments/sessions",
  tags: ["payments"],
  summary: "Start a session at a machine: hold, then unlock (the customer scanned its code)",
  security,
  request: {
    body: {
      content: {
        "application/json": {
          schema: z.strictObject({
            customerId: Id,
            machineId: MachineId,
            paymentMethodId: Id.optional(),
            currency: Currency.optional().describe(
              "The currency the customer was shown; refused when the machine sells in another",
            ),
            prices: z.string().max(200).optional().describe(
              "The price list version the customer was shown (`version` of GET /machines/{id}/prices); 409 when the prices changed since",
            ),
          }),
        },
      },
    },
  },
  responses: {
    201: json(Session, "Started (unlocked, declined or failed)"),
    ...problemResponses,
  },
});

const readSession = createRoute({
  method: "get",
  path: "/payments/sessions/{id}",
  tags: ["payments"],
  summary: "A payment session",
  security,
  request: { params: z.object({ id: Id }) },
  responses: { 200: json(Session, "The session"), ...problemResponses },
});

const reviewQueue = createRoute({
  method: "get",
  path: "/payments/review",
  tags: ["payments"],
  summary: "The review queue: sessions whose cart a person must decide, oldest first",
  security,
  responses: {
    200: json(z.object({ items: z.array(Detail) }), "In review"),
    ...problemResponses,
  },
});

const recentSessions = createRoute({
  method: "get",
  path: "/payments/sessions",
  tags: ["payments"],
  summary: "The sessions that changed most recently, newest first",
  security,
  request: {
    query: z.object({ limit: z.coerce.number().int().min(1).max(200).default(50) }),
  },
  responses: {
    200: json(z.object({ items: z.array(Detail) }), "Recent sessions"),
    ...problemResponses,
  },
});

const reviewSession = createRoute({
  method: "post",
  path: "/payments/sessions/{id}/review",
  tags: ["payments"],
  summary: "Decide a session in review: its cart (the device's to approve, or corrected)",
  security,
  request: {
    params: z.object({ id: Id }),
    body: { content: { "application/json": { schema: z.strictObject({ cart: Cart }) } } },
  },
  responses: { 200: json(Session, "Reviewed and charged"), ...problemResponses },
});

/**
 * The session routes (`POST /payments/sessions`, `GET /payments/sessions/{id}`,
 * `GET /payments/review`, `GET /payments/sessions`, `POST /payments/sessions/{id}/review`), over
 * `deps.payments`.
 */
export function paymentSessionsApi(deps: PaymentDeps): OpenAPIHono<FleetEnv> {
  const p = deps.payments;
  const app = new OpenAPIHono<FleetEnv>();

  app.openapi(startSession, async (c) => {
    const body = c.req.valid("json");
    await need(c, deps, "operator", "payment.start", `machine/${body.machineId}`);
    const s = await p.start({
      customerId: body.customerId,
      machineId: body.machineId,
      ...(body.paymentMethodId ? { paymentMethodId: body.paymentMethodId } : {}),
      ...(body.currency ? { currency: body.currency } : {}),
      ...(body.prices ? { prices: body.prices } : {}),
    }).catch((e) => translate(e, "body.customerId"));
    c.header("Location", `/payments/sessions/${s.sessionId}`);
    return c.json(plain<z.infer<typeof Session>>(s), 201);
  });

  app.openapi(readSession, async (c) => {
    const { id } = c.req.valid("param");
    await need(c, deps, "viewer", "payment.read", `payment/${id}`);
    return c.json(plain<z.infer<typeof Session>>(await p.get(id).catch((e) => translate(e))), 200);
  });

  app.openapi(reviewQueue, async (c) => {
    await need(c, deps, "viewer", "payment.review.read", "payments");
    return c.json({ items: plain<z.infer<typeof Detail>[]>(await p.reviewQueue()) }, 200);
  });

  app.openapi(recentSessions, async (c) => {
    await need(c, deps, "viewer", "payment.read", "payments");
    const { limit } = c.req.valid("query");
    return c.json({ items: plain<z.infer<typeof Detail>[]>(await p.recent({ limit })) }, 200);
  });

  app.openapi(reviewSession, async (c) => {
    const { id } = c.req.valid("param");
    const { cart } = c.req.valid("json");
    const actor = await need(c, deps, "operator", "payment.review", `payment/${id}`);
    const before = await p.get(id).catch((e) => translate(e));
    const s = await p.review(id, { reviewer: actor.subject, cart }).catch((e) =>
      translate(e, "body.cart")
    );
    await audit(deps, c, {
      action: "payment.review",
      target: `payment/${id}`,
      outcome: "ok",
      before: plain({ cart: before.deviceCart }),
      after: plain({ cart, captured: s.captured }),
      reason: null,
    });
    return c.json(plain<z.infer<typeof Session>>(s), 200);
  });

  return app;
}
