/**
 * The audit route: the region's audit log (written by `audit`), newest last, by stream sequence.
 * Each entry says where it came from: the cloud (`vs.<r>.audit.<action>`, which only the cloud
 * account may publish) or a device (`vs.<r>.dev.<id>.audit`, its own subject); an entry from a
 * device whose actor is not that device is marked not authentic, whatever it claims.
 *
 * @module
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { jetstreamManager } from "@nats-io/jetstream";
import {
  type AuditEntry,
  deviceSubjectParts,
  parseAuditEntry,
  streamName,
} from "../../protocol/mod.ts";
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
        items: z.array(z.object({
          seq: z.int(),
          source: z.string().openapi({
            description: "Who wrote it: `cloud`, or `device:<id>` (from the subject it came on)",
          }),
          authentic: z.boolean().openapi({
            description: "False when a device wrote an entry whose actor is not itself",
          }),
          entry: z.record(z.string(), z.unknown()),
        })),
        next: z.int(),
      }),
      "Entries",
    ),
    ...problemResponses,
  },
});

/** Who wrote an entry (from its subject), and whether its actor is that writer. */
function provenance(subject: string, entry: AuditEntry): { source: string; authentic: boolean } {
  if (subject.split(".")[2] !== "dev") return { source: "cloud", authentic: true };
  const device = `device:${deviceSubjectParts(subject).deviceId}`;
  return {
    source: device,
    authentic: entry.actor.subject === device && entry.actor.role === "device",
  };
}

/** The audit route (`GET /audit`), reading the AUDIT stream of `deps.region`. */
export function auditApi(deps: FleetDeps): OpenAPIHono<FleetEnv> {
  const app = new OpenAPIHono<FleetEnv>();
  app.openapi(listAudit, async (c) => {
    await need(c, deps, "operator", "audit.list", "audit");
    const { after, limit } = c.req.valid("query");
    const stream = streamName("AUDIT", deps.region);
    const jsm = await jetstreamManager(deps.nc);
    const info = await jsm.streams.info(stream);
    const items: Array<
      { seq: number; source: string; authentic: boolean; entry: Record<string, never> }
    > = [];
    for (
      let seq = Math.max(after + 1, info.state.first_seq);
      seq <= info.state.last_seq && items.length < limit;
      seq++
    ) {
      // A deleted entry is null (skipped); a read that fails propagates.
      const m = await jsm.streams.getMessage(stream, { seq });
      if (!m) continue;
      const e = parseAuditEntry(m.data);
      if (e.ok) items.push({ seq, ...provenance(m.subject, e.value), entry: plain(e.value) });
    }
    return c.json({ items, next: items.at(-1)?.seq ?? after }, 200);
  });
  return app;
}
