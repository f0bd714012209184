/**
 * The alerts route: the alerts currently raised, newest first.
 *
 * @module
 */
import { AlertRecordSchema } from "../fleet/mod.ts";
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { ALERT_KINDS } from "../../protocol/mod.ts";
import type { FleetDeps, FleetEnv } from "./fleet_env.ts";
import { need } from "./need_role.ts";
import { json, problemResponses, security } from "./openapi_common.ts";

const listAlerts = createRoute({
  method: "get",
  path: "/alerts",
  tags: ["alerts"],
  summary: "Alerts currently raised",
  security,
  request: {
    query: z.object({
      kind: z.enum(ALERT_KINDS).optional(),
    }),
  },
  responses: {
    200: json(z.object({ items: z.array(AlertRecordSchema) }), "Alerts"),
    ...problemResponses,
  },
});

/** The alerts route (`GET /alerts`), read from `deps.state`'s raised alerts. */
export function alertsApi(deps: FleetDeps): OpenAPIHono<FleetEnv> {
  const { state } = deps;
  const app = new OpenAPIHono<FleetEnv>();
  app.openapi(listAlerts, async (c) => {
    await need(c, deps, "viewer", "alert.list", "alerts");
    const { kind } = c.req.valid("query");
    const items = [...state.raised.entries()].map(([, e]) => e.value).filter((a) =>
      !kind || a.kind === kind
    )
      .sort((a, b) => b.since - a.since);
    return c.json({ items }, 200);
  });
  return app;
}
