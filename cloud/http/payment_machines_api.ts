/**
 * What a machine shows its customers: the QR code its cabinet displays (public: it opens the
 * customer app at the machine) and its price list with the amount held at a session's start.
 *
 * @module
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import qrcode from "qrcode-generator";
import type { FleetEnv } from "./fleet_env.ts";
import { need } from "./need_role.ts";
import { json, problemResponses, security } from "./openapi_common.ts";
import { MachineId, type PaymentDeps, translate } from "./_payment_common.ts";

const machineQr = createRoute({
  method: "get",
  path: "/machines/{id}/qr.svg",
  tags: ["payments"],
  summary: "The QR code a cabinet shows: it opens the customer app at this machine (public)",
  request: { params: z.object({ id: MachineId }) },
  responses: {
    200: { content: { "image/svg+xml": { schema: z.string() } }, description: "SVG" },
    ...problemResponses,
  },
});

const machinePrices = createRoute({
  method: "get",
  path: "/machines/{id}/prices",
  tags: ["payments"],
  summary: "The machine's price list (minor units)",
  security,
  request: { params: z.object({ id: MachineId }) },
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
});

/**
 * A machine's customer-facing routes (`GET /machines/{id}/qr.svg`, `GET /machines/{id}/prices`):
 * the code points at `deps.publicUrl` (or the request's origin), the prices come from
 * `deps.payments`.
 */
export function paymentMachinesApi(deps: PaymentDeps): OpenAPIHono<FleetEnv> {
  const p = deps.payments;
  const app = new OpenAPIHono<FleetEnv>();

  app.openapi(machineQr, (c) => {
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
  });

  app.openapi(machinePrices, async (c) => {
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
  });

  return app;
}
