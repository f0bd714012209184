/**
 * The audit route: the region's audit log (written by `audit`), newest last, by stream sequence.
 *
 * @module
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { jetstreamManager } from "@nats-io/jetstream";
import { parseAuditEntry, streamName } from "../../protocol/mod.ts";
import type { FleetDeps, FleetEnv } from "./fleet_env.ts";
import { need } from "./need_role.ts";
import { json, problemResponses, security } from "./openapi_common.ts";
import { plain } from "./plain.ts";

const listAudit = createRoute({
  method: "get",
  path: "/audit",
  tags: ["audit"],
  summary: "The audit log, newest last, by stream sequence (operator)",
  security,
  request: {
    query: z.object({
      after: z.coerce.number().int().min(0).default(0).openapi({
        description: "Stream sequence to start after",
      }),
      limit: z.coerce.number().int().min(1).max(500).default(100),
    }),
  },
  responses: {
    200: json(
      z.object({
        items: z.array(z.object({ seq: z.int(), entry: z.record(z.string(), z.unknown()) })),
        next: z.int(),
      }),
      "Entries",
    ),
    ...problemResponses,
  },
});

/** The audit route (`GET /audit`), reading the AUDIT stream of `deps.region`. */
export function auditApi(deps: FleetDeps): OpenAPIHono<FleetEnv> {
  const app = new OpenAPIHono<FleetEnv>();
  app.openapi(listAudit, async (c) => {
    await need(c, deps, "operator", "audit.list", "audit");
    const { after, limit } = c.req.valid("query");
    const stream = streamName("AUDIT", deps.region);
    const jsm = await jetstreamManager(deps.nc);
    const info = await jsm.streams.info(stream);
    const items: Array<{ seq: number; entry: Record<string, never> }> = [];
    for (
      let seq = Math.max(after + 1, info.state.first_seq);
      seq <= info.state.last_seq && items.length < limit;
      seq++
    ) {
      // A deleted entry is null (skipped); a read that fails propagates.
      const m = await jsm.streams.getMessage(stream, { seq });
      if (!m) continue;
      const e = parseAuditEntry(m.data);
      if (e.ok) items.push({ seq, entry: plain(e.value) });
    }
    return c.json({ items, next: items.at(-1)?.seq ?? after }, 200);
  });
  return app;
}
