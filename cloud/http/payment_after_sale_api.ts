/**
 * What happens to a settled session afterwards: refunds (part or all; a request id makes a retry
 * one refund) and disputes (its clips attached), operator actions each audited.
 *
 * @module
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { audit } from "./audit_log.ts";
import type { FleetEnv } from "./fleet_env.ts";
import { need } from "./need_role.ts";
import { json, problemResponses, security } from "./openapi_common.ts";
import { plain } from "./plain.ts";
import { ApiError } from "./problem.ts";
import { Currency, Id, type PaymentDeps, Session, Sku, translate } from "./_payment_common.ts";

/** Refuses a request in another currency than the one it is about (400, `body.currency`). */
function sameCurrency(asked: string | undefined, actual: string, what: string): void {
  if (asked !== undefined && asked !== actual) {
    throw new ApiError(
      400,
      "Currency mismatch",
      `The request is in ${asked}; ${what} is in ${actual}`,
      { field: "body.currency" },
    );
  }
}

const refundSession = createRoute({
  method: "post",
  path: "/payments/sessions/{id}/refunds",
  tags: ["payments"],
  summary: "Refund part or all of a settled session (requestId makes a retry one refund)",
  security,
  request: {
    params: z.object({ id: Id }),
    body: {
      content: {
        "application/json": {
          schema: z.strictObject({
            amount: z.int().min(1).max(100_000_000),
            sku: Sku.nullable().optional(),
            requestId: z.string().regex(/^[A-Za-z0-9_-]{1,40}$/),
            reason: z.string().max(200).optional(),
            currency: Currency.optional(),
          }),
        },
      },
    },
  },
  responses: { 200: json(Session, "Refunded"), ...problemResponses },
});

const disputeSession = createRoute({
  method: "post",
  path: "/payments/sessions/{id}/disputes",
  tags: ["payments"],
  summary: "Open a dispute on a settled session; its clips are attached",
  security,
  request: {
    params: z.object({ id: Id }),
    body: {
      content: {
        "application/json": {
          schema: z.strictObject({ reason: z.string().min(1).max(200) }),
        },
      },
    },
  },
  responses: { 200: json(Session, "Disputed"), ...problemResponses },
});

/**
 * The refund and dispute routes (`POST /payments/sessions/{id}/refunds`,
 * `POST /payments/sessions/{id}/disputes`), over `deps.payments`.
 */
export function afterSaleApi(deps: PaymentDeps): OpenAPIHono<FleetEnv> {
  const p = deps.payments;
  const app = new OpenAPIHono<FleetEnv>();

  app.openapi(refundSession, async (c) => {
    const { id } = c.req.valid("param");
    const body = c.req.valid("json");
    await need(c, deps, "operator", "payment.refund", `payment/${id}`);
    if (body.currency) {
      const session = await p.get(id).catch((e) => translate(e));
      sameCurrency(body.currency, session.currency, `session ${id}`);
    }
    const s = await p.refund(id, {
      amount: body.amount,
      sku: body.sku ?? null,
      requestId: body.requestId,
    }).catch((e) => translate(e, "body.amount"));
    await audit(deps, c, {
      action: "payment.refund",
      target: `payment/${id}`,
      outcome: "ok",
      before: null,
      after: plain({ amount: body.amount, sku: body.sku ?? null, refunded: s.refunded }),
      reason: body.reason ?? null,
    });
    return c.json(plain<z.infer<typeof Session>>(s), 200);
  });

  app.openapi(disputeSession, async (c) => {
    const { id } = c.req.valid("param");
    const { reason } = c.req.valid("json");
    await need(c, deps, "operator", "payment.dispute", `payment/${id}`);
    const s = await p.dispute(id, { reason }).catch((e) => translate(e));
    await audit(deps, c, {
      action: "payment.dispute",
      target: `payment/${id}`,
      outcome: "ok",
      before: null,
      after: null,
      reason,
    });
    return c.json(plain<z.infer<typeof Session>>(s), 200);
  });

  return app;
}
