/**
 * The device registry's routes: the device list (filtered, by cursor), one device, and
 * registering or updating a device (the registry's `device.<id>` entries).
 *
 * @module
 */
import {
  DeviceIdSchema,
  DeviceInputSchema,
  type DeviceRecord,
  DeviceViewSchema,
  putJson,
  RevisionConflictError,
} from "../fleet/mod.ts";
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { audit } from "./audit_log.ts";
import { DeviceIndex } from "./_device_index.ts";
import { IdParam, inGroup, view } from "./_device_view.ts";
import { etag, ifMatch } from "./etag.ts";
import type { FleetDeps, FleetEnv } from "./fleet_env.ts";
import { need } from "./need_role.ts";
import { json, Problem, problemResponses, security } from "./openapi_common.ts";
import { plain } from "./plain.ts";
import { ApiError } from "./problem.ts";

const cursorOf = (id: string) => btoa(id).replaceAll("=", "");
function afterCursor(cursor: string | undefined): string {
  if (!cursor) return "";
  try {
    const id = atob(cursor);
    if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(id)) throw new Error("bad");
    return id;
  } catch {
    throw new ApiError(400, "Invalid cursor", "The cursor is not one this API returned", {
      field: "query.cursor",
    });
  }
}

const DeviceQuery = z.object({
  status: z.enum(["online", "offline", "unknown"]).optional(),
  group: DeviceIdSchema.optional(),
  region: DeviceIdSchema.optional(),
  version: z.string().max(64).optional(),
  tag: z.string().max(64).optional(),
  cursor: z.string().max(100).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

/** Whether device `id` passes the list's filters: cheap checks on the replicas, no view built. */
function matches(
  deps: FleetDeps,
  id: string,
  q: Omit<z.output<typeof DeviceQuery>, "cursor" | "limit">,
): boolean {
  const { state } = deps;
  const status = state.statuses.get(id)?.value;
  if (q.status && (status?.status ?? "unknown") !== q.status) return false;
  const record = state.devices.get(id)?.value;
  if (q.region && (record?.region ?? status?.region) !== q.region) return false;
  if (q.version && status?.appVersion !== q.version) return false;
  if (q.tag && !record?.tags.includes(q.tag)) return false;
  if (!q.group) return true;
  return inGroup(deps, q.group, {
    id,
    registered: !!record,
    record: record ?? null,
    status: status ?? null,
  });
}

const listDevices = createRoute({
  method: "get",
  path: "/devices",
  tags: ["devices"],
  summary: "List devices, filtered, by cursor",
  security,
  request: { query: DeviceQuery },
  responses: {
    200: json(
      z.object({
        items: z.array(DeviceViewSchema),
        nextCursor: z.string().nullable(),
        total: z.int(),
      }),
      "A page of devices",
    ),
    ...problemResponses,
  },
});

const getDevice = createRoute({
  method: "get",
  path: "/devices/{id}",
  tags: ["devices"],
  summary: "One device; its ETag is the registry revision",
  security,
  request: { params: IdParam },
  responses: { 200: json(DeviceViewSchema, "The device"), ...problemResponses },
});

const putDevice = createRoute({
  method: "put",
  path: "/devices/{id}",
  tags: ["devices"],
  summary: "Register a device (no If-Match) or update it (If-Match: its ETag) (admin)",
  security,
  request: {
    params: IdParam,
    body: { content: { "application/json": { schema: DeviceInputSchema } } },
  },
  responses: {
    200: json(DeviceViewSchema, "Updated"),
    201: json(DeviceViewSchema, "Registered"),
    409: json(Problem, "Exists already"),
    412: json(Problem, "Changed since the ETag"),
    ...problemResponses,
  },
});

/** The device registry's routes (`/devices`, `/devices/{id}`), its list index following `deps.state`. */
export function devicesApi(deps: FleetDeps): OpenAPIHono<FleetEnv> {
  const { state } = deps;
  const index = new DeviceIndex(state);
  const app = new OpenAPIHono<FleetEnv>();

  app.openapi(listDevices, async (c) => {
    await need(c, deps, "viewer", "device.list", "devices");
    const q = c.req.valid("query");
    const after = afterCursor(q.cursor);
    // Cheap checks on the replicas first; views are built only for the page.
    const matching = index.sortedIds(q.status).filter((id) => matches(deps, id, q));
    const start = after ? matching.findIndex((id) => id > after) : 0;
    const page = (start < 0 ? [] : matching.slice(start, start + q.limit)).map((id) =>
      view(deps, id)!
    );
    const last = page.at(-1);
    const more = start >= 0 && start + q.limit < matching.length;
    return c.json({
      items: page,
      nextCursor: more && last ? cursorOf(last.id) : null,
      total: matching.length,
    }, 200);
  });

  app.openapi(getDevice, async (c) => {
    await need(c, deps, "viewer", "device.get", "devices");
    const { id } = c.req.valid("param");
    const v = view(deps, id);
    if (!v) throw new ApiError(404, "Not Found", `No device "${id}"`, { field: "path.id" });
    const rev = state.devices.get(id)?.revision;
    if (rev) c.header("ETag", etag(rev));
    return c.json(v, 200);
  });

  app.openapi(putDevice, async (c) => {
    const { id } = c.req.valid("param");
    const input = c.req.valid("json");
    await need(c, deps, "admin", "device.put", `device/${id}`);
    const expected = ifMatch(c);
    const before = state.devices.get(id);
    const now = Date.now();
    const record: DeviceRecord = {
      ...input,
      id,
      createdAt: before?.value.createdAt ?? now,
      updatedAt: now,
    };
    let revision: number;
    try {
      revision = await putJson(state.registry, `device.${id}`, record, expected ?? 0);
    } catch (e) {
      if (!(e instanceof RevisionConflictError)) throw e;
      await audit(deps, c, {
        action: "device.put",
        target: `device/${id}`,
        outcome: "refused",
        before: null,
        after: null,
        reason: e.message,
      });
      if (expected === undefined) {
        throw new ApiError(
          409,
          "Conflict",
          `Device "${id}" is registered already: update it with If-Match`,
        );
      }
      throw new ApiError(
        412,
        "Precondition Failed",
        `Device "${id}" changed since revision ${expected}`,
        { field: "header.if-match" },
      );
    }
    await state.devices.caughtUp(id, revision);
    await audit(deps, c, {
      action: "device.put",
      target: `device/${id}`,
      outcome: "ok",
      before: before ? plain(before.value) : null,
      after: plain(record),
      reason: null,
    });
    c.header("ETag", etag(revision));
    return c.json(view(deps, id)!, expected === undefined ? 201 : 200);
  });

  return app;
}
