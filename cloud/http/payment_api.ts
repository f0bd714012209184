/**
 * HTTP routes of payments: customers and their payment methods (provider tokens only), payment
 * sessions (start at a machine, read), the review queue (list, correct or approve), refunds and
 * disputes, and each machine's price list. Refusals are problem+json naming the field: a negative
 * or fractional amount, an unknown SKU, a cart above the hold, a session that does not exist, a
 * refund above the capture; nothing changes then. A request that carries what looks like a card
 * number is refused before it reaches a route (see {@link cardNumberGuard}) and never logged.
 *
 * Stripe's webhook (`POST /payments/webhooks/stripe`, served when a signing secret is configured)
 * is verified by its signature instead of a token.
 *
 * Customer-facing calls need an operator token for now (the customer app's backend calls them on
 * the customer's behalf); reviews, refunds and disputes are operator actions, audited.
 *
 * @module
 */
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import qrcode from "qrcode-generator";
import {
  PaymentDeclinedError,
  ProviderUnavailableError,
  readStripeWebhook,
  UnknownSkuError,
  WebhookSignatureError,
} from "../../payments/mod.ts";
import {
  audit,
  type FleetDeps,
  type FleetEnv,
  json,
  need,
  problemResponses,
  security,
} from "./fleet_api.ts";
import {
  PaymentConflictError,
  PaymentNotFoundError,
  type PaymentService,
  PriceListNotFoundError,
  PriceMismatchError,
} from "../checkout/mod.ts";
import { ApiError } from "./problem.ts";
import { cardNumberGuard } from "./card_number_guard.ts";

/** What the payment routes use. */
export interface PaymentDeps extends FleetDeps {
  readonly payments: PaymentService;
}

const Id = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{7,63}$/);
const Sku = z.string().regex(/^[A-Z0-9][A-Z0-9_-]{0,31}$/);
const Cart = z.array(z.strictObject({ sku: Sku, qty: z.int().min(1).max(1000) })).max(200);
const Session = z.object({ sessionId: z.string(), state: z.string() }).passthrough().openapi(
  "PaymentSession",
);
const Detail = z.object({
  session: Session,
  lineConfidence: z.record(z.string(), z.number()).nullable(),
  closedAt: z.int().nullable(),
  receiptAt: z.int().nullable(),
}).openapi("PaymentSessionDetail");
const Customer = z.object({ customerId: z.string(), email: z.string().nullable() }).passthrough()
  .openapi(
    "Customer",
  );
const Currency = z.string().regex(/^[A-Z]{3}$/, "expected an ISO 4217 code such as EUR");
const plain = <T>(v: T) => JSON.parse(JSON.stringify(v));

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

function translate(e: unknown, field = "path.id"): never {
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

/** Adds the payment routes to `app`. */
export function paymentRoutes(app: OpenAPIHono<FleetEnv>, deps: PaymentDeps): void {
  const p = deps.payments;
  const guard = cardNumberGuard();
  app.use("/customers/*", guard);
  app.use("/customers", guard);
  app.use("/payments/*", guard);

  app.openapi(
    createRoute({
      method: "post",
      path: "/customers",
      tags: ["payments"],
      summary: "Register a customer (operator: the customer app's backend)",
      security,
      request: {
        body: {
          content: {
            "application/json": {
              schema: z.strictObject({
                email: z.string().min(3).max(254).optional(),
                phone: z.string().min(8).max(16).optional(),
              }),
            },
          },
        },
      },
      responses: { 201: json(Customer, "Registered"), ...problemResponses },
    }),
    async (c) => {
      await need(c, deps, "operator", "customer.register", "customers");
      const { email, phone } = c.req.valid("json");
      const customer = await p.registerCustomer({
        ...(email === undefined ? {} : { email }),
        ...(phone === undefined ? {} : { phone }),
      }).catch((e) => translate(e, phone === undefined ? "body.email" : "body.phone"));
      return c.json(plain(customer), 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/customers/{id}",
      tags: ["payments"],
      summary: "A customer and their payment methods",
      security,
      request: { params: z.object({ id: Id }) },
      responses: { 200: json(Customer, "The customer"), ...problemResponses },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      await need(c, deps, "operator", "customer.read", `customer/${id}`);
      return c.json(plain(await p.customer(id).catch((e) => translate(e))), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/customers/{id}/payment-methods",
      tags: ["payments"],
      summary: "Add a payment method by its provider token (never a card number)",
      security,
      request: {
        params: z.object({ id: Id }),
        body: {
          content: {
            "application/json": { schema: z.strictObject({ token: z.string().min(4).max(100) }) },
          },
        },
      },
      responses: {
        201: json(z.object({ paymentMethodId: z.string() }).passthrough(), "Added"),
        ...problemResponses,
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      await need(c, deps, "operator", "customer.payment_method", `customer/${id}`);
      const method = await p.addPaymentMethod(id, c.req.valid("json")).catch((e) =>
        translate(e, e instanceof TypeError ? "body.token" : "path.id")
      );
      return c.json(plain(method), 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/machines/{id}/qr.svg",
      tags: ["payments"],
      summary: "The QR code a cabinet shows: it opens the customer app at this machine (public)",
      request: { params: z.object({ id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/) }) },
      responses: {
        200: { content: { "image/svg+xml": { schema: z.string() } }, description: "SVG" },
        ...problemResponses,
      },
    }),
    (c) => {
      const { id } = c.req.valid("param");
      // The app's address as this request reached the service (a proxy sets the public one).
      const base = deps.publicUrl ?? new URL(c.req.url).origin;
      const qr = qrcode(0, "M");
      qr.addData(`${base}/app/m/${id}`);
      qr.make();
      return c.body(qr.createSvgTag({ cellSize: 8, margin: 4, scalable: true }), 200, {
        "content-type": "image/svg+xml",
        "cache-control": "public, max-age=3600",
      });
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/machines/{id}/prices",
      tags: ["payments"],
      summary: "The machine's price list (minor units)",
      security,
      request: { params: z.object({ id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/) }) },
      responses: {
        200: json(
          z.object({
            machineId: z.string(),
            currency: z.string(),
            version: z.string(),
            hold: z.int(),
            items: z.array(z.object({ sku: z.string(), name: z.string(), unitPrice: z.int() })),
          }),
          "Prices",
        ),
        ...problemResponses,
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      await need(c, deps, "viewer", "prices.read", `machine/${id}`);
      const list = await p.pricesFor(id).catch((e) => translate(e));
      return c.json({
        machineId: id,
        currency: list.currency,
        version: list.version,
        hold: p.holdAmount,
        items: [...list.items].map(([sku, v]) => ({ sku, name: v.name, unitPrice: v.unitPrice })),
      }, 200);
    },
  );

  app.openapi(
    createRoute({
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
                machineId: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/),
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
    }),
    async (c) => {
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
      return c.json(plain(s), 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/payments/sessions/{id}",
      tags: ["payments"],
      summary: "A payment session",
      security,
      request: { params: z.object({ id: Id }) },
      responses: { 200: json(Session, "The session"), ...problemResponses },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      await need(c, deps, "viewer", "payment.read", `payment/${id}`);
      return c.json(plain(await p.get(id).catch((e) => translate(e))), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/payments/review",
      tags: ["payments"],
      summary: "The review queue: sessions whose cart a person must decide, oldest first",
      security,
      responses: {
        200: json(z.object({ items: z.array(Detail) }), "In review"),
        ...problemResponses,
      },
    }),
    async (c) => {
      await need(c, deps, "viewer", "payment.review.read", "payments");
      return c.json({ items: plain(await p.reviewQueue()) }, 200);
    },
  );

  app.openapi(
    createRoute({
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
    }),
    async (c) => {
      await need(c, deps, "viewer", "payment.read", "payments");
      const { limit } = c.req.valid("query");
      return c.json({ items: plain(await p.recent({ limit })) }, 200);
    },
  );

  app.openapi(
    createRoute({
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
    }),
    async (c) => {
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
      return c.json(plain(s), 200);
    },
  );

  app.openapi(
    createRoute({
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
    }),
    async (c) => {
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
      return c.json(plain(s), 200);
    },
  );

  app.openapi(
    createRoute({
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
    }),
    async (c) => {
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
      return c.json(plain(s), 200);
    },
  );

  const secret = deps.stripeWebhookSecret;
  if (!secret) return;
  app.openapi(
    createRoute({
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
    }),
    async (c) => {
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
    },
  );
}
