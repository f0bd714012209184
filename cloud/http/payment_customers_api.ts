/**
 * The customer routes: register a customer, read one, and add a payment method by its provider
 * token (never a card number). Operators call them on the customer's behalf (the customer app's
 * backend).
 *
 * @module
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { FleetEnv } from "./fleet_env.ts";
import { need } from "./need_role.ts";
import { json, problemResponses, security } from "./openapi_common.ts";
import { Id, type PaymentDeps, translate } from "./_payment_common.ts";
import { plain } from "./plain.ts";

const Customer = z.object({ customerId: z.string(), email: z.string().nullable() }).passthrough()
  .openapi(
    "Customer",
  );

const registerCustomer = createRoute({
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
});

const readCustomer = createRoute({
  method: "get",
  path: "/customers/{id}",
  tags: ["payments"],
  summary: "A customer and their payment methods",
  security,
  request: { params: z.object({ id: Id }) },
  responses: { 200: json(Customer, "The customer"), ...problemResponses },
});

const addPaymentMethod = createRoute({
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
});

/**
 * The customer routes (`POST /customers`, `GET /customers/{id}`,
 * `POST /customers/{id}/payment-methods`), over `deps.payments`.
 */
export function customersApi(deps: PaymentDeps): OpenAPIHono<FleetEnv> {
  const p = deps.payments;
  const app = new OpenAPIHono<FleetEnv>();

  app.openapi(registerCustomer, async (c) => {
    await need(c, deps, "operator", "customer.register", "customers");
    const { email, phone } = c.req.valid("json");
    const customer = await p.registerCustomer({
      ...(email === undefined ? {} : { email }),
      ...(phone === undefined ? {} : { phone }),
    }).catch((e) => translate(e, phone === undefined ? "body.email" : "body.phone"));
    return c.json(plain<z.infer<typeof Customer>>(customer), 201);
  });

  app.openapi(readCustomer, async (c) => {
    const { id } = c.req.valid("param");
    await need(c, deps, "operator", "customer.read", `customer/${id}`);
    return c.json(
      plain<z.infer<typeof Customer>>(await p.customer(id).catch((e) => translate(e))),
      200,
    );
  });

  app.openapi(addPaymentMethod, async (c) => {
    const { id } = c.req.valid("param");
    await need(c, deps, "operator", "customer.payment_method", `customer/${id}`);
    const method = await p.addPaymentMethod(id, c.req.valid("json")).catch((e) =>
      translate(e, e instanceof TypeError ? "body.token" : "path.id")
    );
    return c.json(plain<{ paymentMethodId: string }>(method), 201);
  });

  return app;
}
