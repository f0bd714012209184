/**
 * The price list routes: operators read the fleet's price lists, admins create or replace them
 * (conditional on an ETag's revision, each write audited with a summary of what changed).
 *
 * @module
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { RevisionConflictError } from "../fleet/mod.ts";
import {
  type PriceBook,
  PriceListError,
  PriceListInputSchema,
  type StoredPriceList,
} from "../checkout/mod.ts";
import { audit } from "./audit_log.ts";
import { etag, ifMatch } from "./etag.ts";
import type { FleetDeps, FleetEnv } from "./fleet_env.ts";
import { need } from "./need_role.ts";
import { json, Problem, problemResponses, security } from "./openapi_common.ts";
import { plain } from "./plain.ts";
import { ApiError } from "./problem.ts";

/** What the price routes use. */
export interface PriceDeps extends FleetDeps {
  /** The price lists. */
  readonly prices: PriceBook;
}

/** A price list's id (also a machine's id in the machine's routes). */
export const ListId = z.string().regex(
  /^[a-z0-9][a-z0-9-]{0,62}$/,
  "must be 1-63 of a-z, 0-9 and '-'",
);
const StoredSchema = PriceListInputSchema.and(z.object({
  id: z.string(),
  updatedAt: z.int(),
  updatedBy: z.string(),
  revision: z.int(),
})).openapi("PriceList");

/** What the audit records of a list: its revision, currency, size, and the SKUs that changed. */
function summary(list: StoredPriceList, before?: StoredPriceList): Record<string, unknown> {
  const out: Record<string, unknown> = {
    revision: list.revision,
    currency: list.currency,
    items: list.items.length,
  };
  if (before) {
    const was = new Map(before.items.map((i) => [i.sku, i]));
    const now = new Set(list.items.map((i) => i.sku));
    out.changed = list.items
      .filter((i) => JSON.stringify(was.get(i.sku)) !== JSON.stringify(i))
      .map((i) => i.sku)
      .slice(0, 100);
    out.removed = before.items.filter((i) => !now.has(i.sku)).map((i) => i.sku).slice(0, 100);
  }
  return out;
}

const listPriceLists = createRoute({
  method: "get",
  path: "/price-lists",
  tags: ["prices"],
  summary: "Every price list",
  security,
  responses: {
    200: json(z.object({ items: z.array(StoredSchema) }), "Price lists"),
    ...problemResponses,
  },
});

const readPriceList = createRoute({
  method: "get",
  path: "/price-lists/{id}",
  tags: ["prices"],
  summary: "One price list (its ETag is the revision a write can be conditional on)",
  security,
  request: { params: z.object({ id: ListId }) },
  responses: { 200: json(StoredSchema, "The price list"), ...problemResponses },
});

const putPriceList = createRoute({
  method: "put",
  path: "/price-lists/{id}",
  tags: ["prices"],
  summary:
    "Create or replace a price list (admin); sessions already started keep the prices of their start",
  security,
  request: {
    params: z.object({ id: ListId }),
    body: { content: { "application/json": { schema: PriceListInputSchema } } },
  },
  responses: {
    200: json(StoredSchema, "Stored"),
    412: json(Problem, "Changed since the ETag"),
    ...problemResponses,
  },
});

/**
 * The price list routes (`GET /price-lists`, `GET /price-lists/{id}`, `PUT /price-lists/{id}`),
 * over `deps.prices`.
 */
export function priceListsApi(deps: PriceDeps): OpenAPIHono<FleetEnv> {
  const book = deps.prices;
  const app = new OpenAPIHono<FleetEnv>();

  app.openapi(listPriceLists, async (c) => {
    await need(c, deps, "viewer", "prices.read", "price-lists");
    return c.json({ items: await book.list() }, 200);
  });

  app.openapi(readPriceList, async (c) => {
    const { id } = c.req.valid("param");
    await need(c, deps, "viewer", "prices.read", `price-list/${id}`);
    const list = await book.get(id);
    if (!list) {
      throw new ApiError(404, "Not Found", `No price list "${id}"`, { field: "path.id" });
    }
    c.header("ETag", etag(list.revision));
    return c.json(list, 200);
  });

  app.openapi(putPriceList, async (c) => {
    const { id } = c.req.valid("param");
    const input = c.req.valid("json");
    const actor = await need(c, deps, "admin", "prices.put", `price-list/${id}`);
    const before = await book.get(id);
    const expected = ifMatch(c);
    let stored;
    try {
      stored = await book.put(id, input, {
        by: actor.subject,
        ...(expected === undefined ? {} : { revision: expected }),
      });
    } catch (e) {
      if (e instanceof RevisionConflictError) {
        throw new ApiError(412, "Precondition Failed", e.message, { field: "header.if-match" });
      }
      if (e instanceof PriceListError) {
        throw new ApiError(400, "Invalid request", e.message, { field: `body.${e.field}` });
      }
      throw e;
    }
    // A summary, not the lists: two large lists would not fit in one message.
    await audit(deps, c, {
      action: "prices.put",
      target: `price-list/${id}`,
      outcome: "ok",
      before: before ? plain(summary(before)) : null,
      after: plain(summary(stored, before)),
      reason: null,
    });
    c.header("ETag", etag(stored.revision));
    return c.json(stored, 200);
  });

  return app;
}
