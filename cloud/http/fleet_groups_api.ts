/**
 * The group routes: creating or updating a group (the registry's `group.<id>` entries) and the
 * group list with member counts.
 *
 * @module
 */
import {
  GroupInputSchema,
  GroupRecordSchema,
  putJson,
  RevisionConflictError,
} from "../fleet/mod.ts";
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { audit } from "./audit_log.ts";
import { IdParam, inGroup, view } from "./_device_view.ts";
import { etag, ifMatch } from "./etag.ts";
import type { FleetDeps, FleetEnv } from "./fleet_env.ts";
import { need } from "./need_role.ts";
import { json, Problem, problemResponses, security } from "./openapi_common.ts";
import { plain } from "./plain.ts";
import { ApiError } from "./problem.ts";

const putGroup = createRoute({
  method: "put",
  path: "/groups/{id}",
  tags: ["groups"],
  summary:
    "Create or update a group: static members name it in their `groups`; a tag query adds every device with all its tags (admin)",
  security,
  request: {
    params: IdParam,
    body: { content: { "application/json": { schema: GroupInputSchema } } },
  },
  responses: {
    200: json(GroupRecordSchema, "Stored"),
    412: json(Problem, "Changed since the ETag"),
    ...problemResponses,
  },
});

const listGroups = createRoute({
  method: "get",
  path: "/groups",
  tags: ["groups"],
  summary: "List groups with their member counts",
  security,
  responses: {
    200: json(
      z.object({ items: z.array(GroupRecordSchema.extend({ members: z.int() })) }),
      "Groups",
    ),
    ...problemResponses,
  },
});

/** The group routes (`/groups`, `/groups/{id}`) over `deps.state`'s registry. */
export function groupsApi(deps: FleetDeps): OpenAPIHono<FleetEnv> {
  const { state } = deps;
  const app = new OpenAPIHono<FleetEnv>();

  app.openapi(putGroup, async (c) => {
    const { id } = c.req.valid("param");
    const input = c.req.valid("json");
    await need(c, deps, "admin", "group.put", `group/${id}`);
    const before = state.groups.get(id);
    const now = Date.now();
    const record = { ...input, id, createdAt: before?.value.createdAt ?? now, updatedAt: now };
    const expected = ifMatch(c);
    let revision: number;
    try {
      revision = await putJson(state.registry, `group.${id}`, record, expected);
    } catch (e) {
      if (e instanceof RevisionConflictError) {
        throw new ApiError(412, "Precondition Failed", e.message, { field: "header.if-match" });
      }
      throw e;
    }
    await state.groups.caughtUp(id, revision);
    await audit(deps, c, {
      action: "group.put",
      target: `group/${id}`,
      outcome: "ok",
      before: before ? plain(before.value) : null,
      after: plain(record),
      reason: null,
    });
    c.header("ETag", etag(revision));
    return c.json(record, 200);
  });

  app.openapi(listGroups, async (c) => {
    await need(c, deps, "viewer", "group.list", "groups");
    const views = [...new Set([...[...state.devices.entries()].map(([id]) => id)])].map((id) =>
      view(deps, id)!
    );
    const items = [...state.groups.entries()].map(([id, e]) => ({
      ...e.value,
      members: views.filter((v) => inGroup(deps, id, v)).length,
    }));
    return c.json({ items }, 200);
  });

  return app;
}
