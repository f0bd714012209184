/**
 * The regions route: every region's device counts, this one's counted now from the statuses,
 * the others' from the summaries each region writes.
 *
 * @module
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { FleetDeps, FleetEnv } from "./fleet_env.ts";
import { need } from "./need_role.ts";
import { json, problemResponses, security } from "./openapi_common.ts";

const listRegions = createRoute({
  method: "get",
  path: "/regions",
  tags: ["devices"],
  summary:
    "Every region and how many devices it serves and has online: this one counted now, the others from the summary each writes every few seconds (stale when old)",
  security,
  responses: {
    200: json(
      z.object({
        items: z.array(z.object({
          id: z.string(),
          devices: z.int(),
          online: z.int(),
          homes: z.record(z.string(), z.object({ devices: z.int(), online: z.int() }))
            .optional()
            .describe("The same counts by the devices' home region"),
          source: z.enum(["live", "summary"]).optional(),
          stale: z.boolean().optional(),
          updatedAt: z.int().optional(),
        })),
      }),
      "Regions",
    ),
    ...problemResponses,
  },
});

/** The regions route (`GET /regions`), from `deps.summaries` when given, else this region's statuses. */
export function regionsApi(deps: FleetDeps): OpenAPIHono<FleetEnv> {
  const { state } = deps;
  const app = new OpenAPIHono<FleetEnv>();
  app.openapi(listRegions, async (c) => {
    await need(c, deps, "viewer", "region.list", "regions");
    if (deps.summaries) {
      const items = deps.summaries.list().map(({ region, at, ...r }) => ({
        id: region,
        ...r,
        updatedAt: at,
      }));
      return c.json({ items }, 200);
    }
    const regions = new Map<string, { devices: number; online: number }>([[deps.region, {
      devices: 0,
      online: 0,
    }]]);
    for (const [, e] of state.statuses.entries()) {
      const r = regions.get(e.value.region) ?? { devices: 0, online: 0 };
      r.devices++;
      if (e.value.status === "online") r.online++;
      regions.set(e.value.region, r);
    }
    return c.json({ items: [...regions].map(([id, r]) => ({ id, ...r })) }, 200);
  });
  return app;
}
