/**
 * The shadow comparison of a deployment (mounted at `/deployments`): for a deployment whose
 * model target runs in shadow mode, the candidate scored against the live model on the sessions
 * its devices decided with both since it was created, against reviewed truth and each other,
 * with the inference cost of each and the promotion policy's verdict (see
 * `datasets/shadow_comparison.ts`). Served where the field samples are kept.
 *
 * @module
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { FieldDataset } from "../datasets/mod.ts";
import { DEFAULT_MIN_REVIEWED } from "../updates/mod.ts";
import { type FleetEnv, json, need, problemResponses, security } from "./fleet_api.ts";
import { plain } from "./plain.ts";
import { ApiError } from "./problem.ts";
import type { UpdateDeps } from "./update_api_common.ts";
import { DeploymentId } from "./update_deployments_api.ts";

/** What the shadow comparison route uses. */
export interface ShadowDeps extends UpdateDeps {
  /** The region's field samples, with their reviews. */
  readonly fieldDataset: FieldDataset;
}

const Score = z.object({
  versions: z.array(z.string()),
  rightCharges: z.int(),
  wrongCharges: z.int(),
  exact: z.int(),
  reviewRate: z.number(),
  meanMs: z.number().nullable(),
});

const Comparison = z.object({
  deploymentId: z.string(),
  candidate: z.string(),
  sessions: z.int(),
  reviewed: z.int(),
  minReviewed: z.int(),
  agreement: z.number().nullable(),
  live: Score,
  candidateScore: Score,
  verdict: z.object({ state: z.enum(["collecting", "promote", "stop"]), reason: z.string() }),
}).openapi("ShadowComparison");

const shadowRoute = createRoute({
  method: "get",
  path: "/{id}/shadow",
  tags: ["updates"],
  summary: "A shadow deployment's candidate model compared with the live one",
  security,
  request: {
    params: z.object({ id: DeploymentId }),
    query: z.object({
      minReviewed: z.coerce.number().int().min(1).max(100_000).optional().openapi({
        description:
          "Reviewed sessions needed for a verdict; default the deployment's promotion policy's",
      }),
    }),
  },
  responses: { 200: json(Comparison, "The comparison"), ...problemResponses },
});

/** `GET /deployments/{id}/shadow`, to mount at `/deployments`. */
export function shadowComparisonApi(deps: ShadowDeps): OpenAPIHono<FleetEnv> {
  const app = new OpenAPIHono<FleetEnv>();
  app.openapi(shadowRoute, async (c) => {
    const { id } = c.req.valid("param");
    const { minReviewed } = c.req.valid("query");
    await need(c, deps, "viewer", "deployment.read", `deployment/${id}`);
    const d = await deps.deployments.get(id);
    if (!d) throw new ApiError(404, "Not found", `No deployment "${id}"`, { field: "path.id" });
    const target = d.targets.find((t) => t.mode === "shadow");
    if (!target) {
      throw new ApiError(409, "Conflict", `Deployment "${id}" runs no model in shadow mode`, {
        field: "path.id",
      });
    }
    const comparison = await deps.fieldDataset.compareShadow({
      candidate: target.version,
      deviceIds: new Set(d.devices),
      since: d.createdAt,
      minReviewed: minReviewed ?? d.promotion?.minReviewed ?? DEFAULT_MIN_REVIEWED,
    });
    return c.json(
      plain<z.infer<typeof Comparison>>({ deploymentId: id, ...comparison }),
      200,
    );
  });
  return app;
}
