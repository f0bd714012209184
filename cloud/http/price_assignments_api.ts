/**
 * The price list a machine sells at: admins choose it (null goes back to the default list), each
 * choice audited.
 *
 * @module
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { DEFAULT_PRICE_LIST, PriceListNotFoundError } from "../checkout/mod.ts";
import { audit } from "./audit_log.ts";
import type { FleetEnv } from "./fleet_env.ts";
import { need } from "./need_role.ts";
import { json, problemResponses, security } from "./openapi_common.ts";
import { plain } from "./plain.ts";
import { ApiError } from "./problem.ts";
import { ListId, type PriceDeps } from "./price_lists_api.ts";

const assignPriceList = createRoute({
  method: "put",
  path: "/machines/{id}/price-list",
  tags: ["prices"],
  summary: "Choose the price list a machine sells at (admin); null goes back to `default`",
  security,
  request: {
    params: z.object({ id: ListId }),
    body: {
      content: {
        "application/json": { schema: z.strictObject({ priceList: ListId.nullable() }) },
      },
    },
  },
  responses: {
    200: json(z.object({ machineId: z.string(), priceList: z.string() }), "Assigned"),
    ...problemResponses,
  },
});

/** The assignment route (`PUT /machines/{id}/price-list`), over `deps.prices`. */
export function priceAssignmentsApi(deps: PriceDeps): OpenAPIHono<FleetEnv> {
  const book = deps.prices;
  const app = new OpenAPIHono<FleetEnv>();
  app.openapi(assignPriceList, async (c) => {
    const { id } = c.req.valid("param");
    const { priceList } = c.req.valid("json");
    await need(c, deps, "admin", "prices.assign", `machine/${id}`);
    const before = await book.assignment(id);
    try {
      await book.assign(id, priceList);
    } catch (e) {
      if (e instanceof PriceListNotFoundError) {
        throw new ApiError(404, "Not Found", e.message, { field: "body.priceList" });
      }
      throw e;
    }
    const after = priceList ?? DEFAULT_PRICE_LIST;
    await audit(deps, c, {
      action: "prices.assign",
      target: `machine/${id}`,
      outcome: "ok",
      before: plain({ priceList: before }),
      after: plain({ priceList: after }),
      reason: null,
    });
    return c.json({ machineId: id, priceList: after }, 200);
  });
  return app;
}
