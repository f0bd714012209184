/**
 * A machine's planogram: which SKU each slot holds and its par level. Operators read it (with
 * what each of the machine's devices applied) and its versions; operators write it, checked
 * against the machine's price list and the slots its cameras see, each write audited. The ETag
 * is the version; a write with If-Match is made only over that version.
 *
 * @module
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import {
  buckets,
  type Calibration,
  parseShadow,
  shadowKey,
  type ShadowReported,
  SlotAssignmentsSchema,
} from "../../protocol/mod.ts";
import {
  type PlanogramBook,
  PlanogramConflictError,
  PlanogramRefusedError,
  type StoredPlanogram,
} from "../fleet/mod.ts";
import type { PriceBook } from "../checkout/mod.ts";
import { openKv } from "../nats/mod.ts";
import { audit } from "./audit_log.ts";
import { etag, ifMatch } from "./etag.ts";
import type { FleetDeps, FleetEnv } from "./fleet_env.ts";
import { need } from "./need_role.ts";
import { json, Problem, problemResponses, security } from "./openapi_common.ts";
import { plain } from "./plain.ts";
import { ApiError } from "./problem.ts";

/** What the planogram routes need. */
export interface PlanogramDeps extends FleetDeps {
  /** The machines' planograms. */
  readonly planograms: PlanogramBook;
  /** The price lists (what a machine sells). */
  readonly prices: PriceBook;
}

const MachineParam = z.object({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "must be 1-63 of a-z, 0-9 and '-'")
    .openapi({ example: "m001" }),
});

const Slot = z.object({
  shelf: z.int(),
  slot: z.int(),
  sku: z.string().nullable(),
  par: z.int(),
});

const PlanogramView = z.object({
  machineId: z.string(),
  version: z.int(),
  slots: z.array(Slot),
  updatedAt: z.int(),
  updatedBy: z.string(),
}).openapi("Planogram");

const Applied = z.object({
  deviceId: z.string(),
  /** The version the device decides by (null: none yet). */
  inUse: z.int().nullable(),
  /** Why the device refused its last desired state, by field. */
  errors: z.array(z.object({ field: z.string(), reason: z.string() })),
});

const getPlanogram = createRoute({
  method: "get",
  path: "/machines/{id}/planogram",
  tags: ["planograms"],
  summary:
    "A machine's planogram and the version each of its devices uses; the ETag is the version",
  security,
  request: { params: MachineParam },
  responses: {
    200: json(PlanogramView.extend({ devices: z.array(Applied) }), "The planogram"),
    ...problemResponses,
  },
});

const listVersions = createRoute({
  method: "get",
  path: "/machines/{id}/planogram/versions",
  tags: ["planograms"],
  summary: "A machine's planogram versions, newest first (the last 64)",
  security,
  request: { params: MachineParam },
  responses: {
    200: json(z.object({ items: z.array(PlanogramView) }), "Versions"),
    ...problemResponses,
  },
});

const putPlanogram = createRoute({
  method: "put",
  path: "/machines/{id}/planogram",
  tags: ["planograms"],
  summary:
    "Write a machine's planogram (operator): a new version, sent to the machine, which applies it between door sessions",
  security,
  request: {
    params: MachineParam,
    body: {
      content: {
        "application/json": { schema: z.strictObject({ slots: SlotAssignmentsSchema }) },
      },
    },
  },
  responses: {
    200: json(PlanogramView, "The version written"),
    412: json(Problem, "Changed since the ETag"),
    422: json(Problem, "A SKU the machine does not sell, or a slot its cameras do not see"),
    ...problemResponses,
  },
});

/** A device's reported shadow in this region, if it has a valid one. */
async function reportedShadow(
  deps: FleetDeps,
  deviceId: string,
): Promise<ShadowReported | undefined> {
  const kv = await openKv(deps.nc, buckets.shadow, { history: 5 });
  const e = await kv.get(shadowKey(deviceId, "reported"));
  const parsed = e?.operation === "PUT" && e.value.length ? parseShadow(e.value) : undefined;
  return parsed?.ok && parsed.value.kind === "reported" ? parsed.value : undefined;
}

/** The machine's devices (registered or heard from) and what each applied. */
async function appliedBy(deps: PlanogramDeps, machineId: string) {
  const ids = new Set<string>();
  for (const [id, e] of deps.state.devices.entries()) {
    if (e.value.machineId === machineId) ids.add(id);
  }
  for (const [id, e] of deps.state.statuses.entries()) {
    if (e.value.machineId === machineId) ids.add(id);
  }
  const out: z.infer<typeof Applied>[] = [];
  for (const deviceId of [...ids].sort()) {
    const reported = await reportedShadow(deps, deviceId);
    out.push({
      deviceId,
      inUse: reported?.state.planogram?.version ?? null,
      errors: (reported?.applied.errors ?? []).filter((x) => x.field.startsWith("planogram")),
    });
  }
  return out;
}

/** The slots the machine's primary says its cameras see (in this region's shadows), if it said. */
export async function machineCalibration(
  deps: FleetDeps,
  machineId: string,
): Promise<Calibration | undefined> {
  const primary =
    [...deps.state.devices.entries()].find(([, e]) =>
      e.value.machineId === machineId && e.value.role === "primary"
    )?.[0] ?? [...deps.state.statuses.entries()].find(([, e]) => e.value.machineId === machineId)
      ?.[0];
  return primary ? (await reportedShadow(deps, primary))?.state.calibration : undefined;
}

const view = (p: StoredPlanogram): z.infer<typeof PlanogramView> => ({
  machineId: p.machineId,
  version: p.version,
  slots: p.slots.map((s) => ({ ...s })),
  updatedAt: p.updatedAt,
  updatedBy: p.updatedBy,
});

/** The planogram routes (`/machines/{id}/planogram`), over `deps.planograms`. */
export function planogramApi(deps: PlanogramDeps): OpenAPIHono<FleetEnv> {
  const book = deps.planograms;
  const app = new OpenAPIHono<FleetEnv>();

  app.openapi(getPlanogram, async (c) => {
    const { id } = c.req.valid("param");
    await need(c, deps, "viewer", "planogram.get", `machine/${id}`);
    const p = await book.get(id);
    if (!p) {
      throw new ApiError(404, "Not Found", `Machine "${id}" has no planogram`, {
        field: "path.id",
      });
    }
    c.header("ETag", etag(p.version));
    return c.json({ ...view(p), devices: await appliedBy(deps, id) }, 200);
  });

  app.openapi(listVersions, async (c) => {
    const { id } = c.req.valid("param");
    await need(c, deps, "viewer", "planogram.get", `machine/${id}`);
    return c.json({ items: (await book.versions(id)).map(view) }, 200);
  });

  app.openapi(putPlanogram, async (c) => {
    const { id } = c.req.valid("param");
    const body = c.req.valid("json");
    const actor = await need(c, deps, "operator", "planogram.put", `machine/${id}`);
    const version = ifMatch(c);
    const before = await book.get(id);
    const { list } = await deps.prices.forMachine(id);
    let written: StoredPlanogram;
    try {
      written = await book.put(id, body, {
        by: actor.subject,
        skus: new Set(list.items.keys()),
        calibration: await machineCalibration(deps, id),
        ...(version !== undefined ? { version } : {}),
      });
    } catch (e) {
      const refused = e instanceof PlanogramRefusedError
        ? new ApiError(422, "Planogram refused", e.message, { field: `body.${e.field}`, cause: e })
        : e instanceof PlanogramConflictError
        ? new ApiError(412, "Precondition Failed", e.message, {
          field: "header.if-match",
          cause: e,
        })
        : undefined;
      if (!refused) throw e;
      await audit(deps, c, {
        action: "planogram.put",
        target: `machine/${id}`,
        outcome: "refused",
        before: before ? plain(before) : null,
        after: null,
        reason: refused.message,
      });
      throw refused;
    }
    await audit(deps, c, {
      action: "planogram.put",
      target: `machine/${id}`,
      outcome: "ok",
      before: before ? plain(before) : null,
      after: plain(written),
      reason: null,
    });
    c.header("ETag", etag(written.version));
    return c.json(view(written), 200);
  });
  return app;
}
