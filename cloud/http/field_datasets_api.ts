/**
 * Field dataset routes: the region's labelled field samples (each door session's decision,
 * per-slot evidence and clips, labelled by a reviewer's cart or a confident charge nobody
 * disputed), filtered by machine, period, model version and label source; their export as
 * NDJSON (one sample a line, then a summary line); and a sample's clips. Operators only: the
 * clips are customers' video.
 *
 * @module
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { FieldDataset, FieldQuery, LabelledSample } from "../datasets/mod.ts";
import type { FleetDeps, FleetEnv } from "./fleet_env.ts";
import { need } from "./need_role.ts";
import { json, problemResponses, security } from "./openapi_common.ts";
import { Id, MachineId, type PaymentDeps } from "./_payment_common.ts";
import { ApiError } from "./problem.ts";

/** What the dataset routes use. */
export interface DatasetDeps extends FleetDeps {
  readonly payments: PaymentDeps["payments"];
  /** The region's labelled samples. */
  readonly fieldDataset: FieldDataset;
}

const Time = z.union([
  z.coerce.number().int().min(0),
  z.iso.datetime({ offset: true }).transform((s) => Date.parse(s)),
  z.iso.date().transform((s) => Date.parse(`${s}T00:00:00Z`)),
]);

const Query = z.object({
  machine: MachineId.optional().openapi({ description: "Only this machine's sessions" }),
  since: z.string().optional().openapi({
    description: "Doors closed at or after: Unix ms, an ISO date or date-time",
  }),
  until: z.string().optional().openapi({ description: "Doors closed before (as `since`)" }),
  model: z.string().regex(/^[0-9A-Za-z][0-9A-Za-z.+_ -]{0,63}$/).optional().openapi({
    description: "Only sessions this model version decided",
  }),
  label: z.enum(["reviewed", "confident", "any"]).default("any").openapi({
    description: "reviewed: a person's cart; confident: charged without review at " +
      "`minConfidence` or above and not disputed",
  }),
  minConfidence: z.coerce.number().min(0).max(1).default(0.95),
  limit: z.coerce.number().int().min(1).max(100_000).default(1000),
});

const Label = z.object({
  source: z.enum(["reviewed", "confident"]),
  cart: z.array(z.object({ sku: z.string(), qty: z.int() })),
  reviewer: z.string().nullable(),
  corrected: z.boolean(),
});

const Summary = z.object({
  sessionId: z.string(),
  machineId: z.string(),
  deviceId: z.string().nullable(),
  closedAt: z.int().nullable(),
  modelVersion: z.string().nullable(),
  planogramVersion: z.int(),
  label: Label,
  clips: z.array(z.object({
    object: z.string(),
    cameraId: z.string(),
    bytes: z.int(),
    frames: z.int(),
  })),
  clipsExpireAt: z.int(),
}).openapi("FieldSampleSummary");

const Listing = z.object({
  samples: z.array(Summary),
  matched: z.int(),
  skipped: z.record(z.string(), z.int()),
}).openapi("FieldDatasetListing");

const listRoute = createRoute({
  method: "get",
  path: "/datasets/field",
  tags: ["datasets"],
  summary: "The labelled field samples, with what was left out and why",
  security,
  request: { query: Query },
  responses: { 200: json(Listing, "Samples"), ...problemResponses },
});

const exportRoute = createRoute({
  method: "get",
  path: "/datasets/field/export",
  tags: ["datasets"],
  summary: "The labelled field samples as NDJSON: one sample (decision, evidence, clips, label, " +
    "planogram) a line, then a summary line",
  security,
  request: { query: Query },
  responses: {
    200: {
      content: { "application/x-ndjson": { schema: z.string() } },
      description: "One JSON object a line",
    },
    ...problemResponses,
  },
});

const clipRoute = createRoute({
  method: "get",
  path: "/datasets/field/{id}/clip",
  tags: ["datasets"],
  summary: "One of a field sample's clips (MP4)",
  security,
  request: {
    params: z.object({ id: Id }),
    query: z.object({ object: z.string().regex(/^[A-Za-z0-9/_.-]{1,255}$/) }),
  },
  responses: {
    200: { content: { "video/mp4": { schema: z.string() } }, description: "The clip" },
    ...problemResponses,
  },
});

function queryOf(q: z.infer<typeof Query>): FieldQuery {
  const time = (name: "since" | "until") => {
    const v = q[name];
    if (v === undefined) return {};
    const r = Time.safeParse(v);
    if (!r.success || !Number.isFinite(r.data)) {
      throw new ApiError(400, "Bad Request", `${name} must be Unix ms, an ISO date or date-time`, {
        field: `query.${name}`,
      });
    }
    return { [name]: r.data };
  };
  return {
    ...(q.machine ? { machineId: q.machine } : {}),
    ...(q.model ? { modelVersion: q.model } : {}),
    ...time("since"),
    ...time("until"),
    label: q.label,
    minConfidence: q.minConfidence,
    limit: q.limit,
  };
}

/** A sample as the listing shows it. */
export function sampleSummary(x: LabelledSample): z.infer<typeof Summary> {
  const s = x.sample;
  return {
    sessionId: s.sessionId,
    machineId: s.machineId!,
    deviceId: s.deviceId,
    closedAt: s.closedAt,
    modelVersion: s.modelVersion,
    planogramVersion: x.planogram.version,
    label: { ...x.label, cart: [...x.label.cart] },
    clips: s.clips.map((c) => ({
      object: c.object,
      cameraId: c.cameraId,
      bytes: c.bytes,
      frames: c.frames,
    })),
    clipsExpireAt: s.clipsExpireAt,
  };
}

/** `GET /datasets/field`, `GET /datasets/field/export`, `GET /datasets/field/{id}/clip` (operator). */
export function fieldDatasetsApi(deps: DatasetDeps): OpenAPIHono<FleetEnv> {
  const app = new OpenAPIHono<FleetEnv>();
  app.openapi(listRoute, async (c) => {
    const q = queryOf(c.req.valid("query"));
    await need(
      c,
      deps,
      "operator",
      "datasets.read",
      q.machineId ? `machine/${q.machineId}` : "fleet",
    );
    const r = await deps.fieldDataset.list(q);
    return c.json({
      samples: r.samples.map(sampleSummary),
      matched: r.matched,
      skipped: { ...r.skipped } as Record<string, number>,
    }, 200);
  });
  // Documented by the route, served by a plain handler: a content type that names JSON types
  // an OpenAPI handler for c.json, and this one answers one JSON object a line.
  app.openAPIRegistry.registerPath(exportRoute);
  app.get(exportRoute.path, async (c) => {
    const parsed = Query.safeParse(c.req.query());
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const field = `query.${issue.path.join(".")}`;
      throw new ApiError(400, "Bad Request", `${field}: ${issue.message}`, { field });
    }
    const q = queryOf(parsed.data);
    const target = q.machineId ? `machine/${q.machineId}` : "fleet";
    await need(c, deps, "operator", "datasets.export", target);
    const r = await deps.fieldDataset.list(q);
    const lines = r.samples.map((x) => JSON.stringify(x));
    lines.push(JSON.stringify({
      summary: { exported: r.samples.length, matched: r.matched, skipped: r.skipped },
    }));
    return c.body(lines.join("\n") + "\n", 200, { "content-type": "application/x-ndjson" });
  });
  app.openapi(clipRoute, async (c) => {
    const { id } = c.req.valid("param");
    const { object } = c.req.valid("query");
    await need(c, deps, "operator", "datasets.read", `session/${id}`);
    // Only a clip of the session's cabinet (another name is not found).
    const mp4 = object.split("/")[1] === id ? await deps.payments.clip(id, object) : null;
    if (!mp4) {
      throw new ApiError(404, "Not Found", `Session ${id} has no clip ${object}`, {
        field: "query.object",
      });
    }
    return c.body(mp4 as Uint8Array<ArrayBuffer>, 200, { "content-type": "video/mp4" });
  });
  return app;
}
