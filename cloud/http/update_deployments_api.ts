/**
 * The deployment routes (mounted at `/deployments`): creating a deployment (operator), reading
 * it with its devices counted by status, and pausing, resuming or cancelling it. An unknown
 * version, a selector that picks no device or a policy out of range is refused with
 * problem+json naming the field; nothing is created then.
 *
 * @module
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { ComponentError } from "../updates/mod.ts";
import { audit, type FleetEnv, json, need, problemResponses, security } from "./fleet_api.ts";
import { plain } from "./plain.ts";
import { ApiError } from "./problem.ts";
import { ComponentName, refused, type UpdateDeps } from "./update_api_common.ts";

/** A deployment id in a path. */
export const DeploymentId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{7,63}$/);
const Target = z.strictObject({
  component: ComponentName,
  version: z.string().min(1).max(64),
  mode: z.enum(["live", "shadow", "stop"]).optional().openapi({
    description:
      "shadow: a model run beside the live one as a candidate, never charged; stop: that candidate stops running",
  }),
});
const Deployment = z.object({
  id: z.string(),
  state: z.string(),
  targets: z.array(Target),
  devices: z.array(z.string()),
  assigned: z.int(),
  counts: z.record(z.string(), z.int()),
  reason: z.string().nullable(),
}).passthrough().openapi("Deployment");

/** A deployment as plain JSON (the stored one has readonly arrays). */
const deployment = (d: unknown) => plain<z.infer<typeof Deployment>>(d);

const createDeployment = createRoute({
  method: "post",
  path: "/",
  tags: ["updates"],
  summary: "Create a deployment (operator)",
  security,
  request: {
    body: {
      content: {
        "application/json": {
          schema: z.strictObject({
            targets: z.array(Target).min(1).max(8),
            selector: z.strictObject({
              devices: z.array(z.string()).max(10_000).optional(),
              groups: z.array(z.string()).max(100).optional(),
              tags: z.array(z.string()).max(100).optional(),
              regions: z.array(z.string()).max(100).optional(),
            }),
            policy: z.strictObject({
              canary: z.int().optional(),
              ratePerMinute: z.number().optional(),
              growth: z.number().optional(),
              failureThreshold: z.number().optional(),
            }).optional(),
            promotion: z.strictObject({
              minReviewed: z.int().min(1).max(100_000).optional().openapi({
                description:
                  "Reviewed sessions decided by both models before the candidate is promoted or stopped (default 20)",
              }),
            }).optional().openapi({
              description:
                "For a deployment with a model in shadow mode: when its candidate is judged",
            }),
          }),
        },
      },
    },
  },
  responses: { 201: json(Deployment, "The deployment"), ...problemResponses },
});

const getDeployment = createRoute({
  method: "get",
  path: "/{id}",
  tags: ["updates"],
  summary: "A deployment, with its devices counted by status",
  security,
  request: { params: z.object({ id: DeploymentId }) },
  responses: { 200: json(Deployment, "The deployment"), ...problemResponses },
});

/** The deployment routes, to mount at `/deployments`, over `deps.deployments`. */
export function deploymentsApi(deps: UpdateDeps): OpenAPIHono<FleetEnv> {
  const app = new OpenAPIHono<FleetEnv>();

  app.openapi(createDeployment, async (c) => {
    const body = c.req.valid("json");
    await need(c, deps, "operator", "deployment.create", "deployments");
    const d = await deps.deployments.create({
      targets: body.targets.map((t) => ({
        component: t.component,
        version: t.version,
        ...(t.mode ? { mode: t.mode } : {}),
      })),
      selector: stripUndefined(body.selector),
      ...(body.policy ? { policy: stripUndefined(body.policy) } : {}),
      ...(body.promotion ? { promotion: stripUndefined(body.promotion) } : {}),
    }).catch((e) => refused(e, "body."));
    await audit(deps, c, {
      action: "deployment.create",
      target: `deployment/${d.id}`,
      outcome: "ok",
      before: null,
      after: { targets: d.targets.map((t) => ({ ...t })), devices: d.devices.length },
      reason: null,
    });
    return c.json(deployment(await deps.deployments.get(d.id)), 201);
  });

  app.openapi(getDeployment, async (c) => {
    const { id } = c.req.valid("param");
    await need(c, deps, "viewer", "deployment.read", `deployment/${id}`);
    const d = await deps.deployments.get(id);
    if (!d) throw new ApiError(404, "Not found", `No deployment "${id}"`, { field: "path.id" });
    return c.json(deployment(d), 200);
  });

  for (const action of ["pause", "resume", "cancel"] as const) {
    app.openapi(
      createRoute({
        method: "post",
        path: `/{id}/${action}`,
        tags: ["updates"],
        summary: `${action[0]!.toUpperCase()}${action.slice(1)} a deployment (operator)`,
        security,
        request: { params: z.object({ id: DeploymentId }) },
        responses: { 200: json(Deployment, "The deployment"), ...problemResponses },
      }),
      async (c) => {
        const { id } = c.req.valid("param");
        await need(c, deps, "operator", `deployment.${action}`, `deployment/${id}`);
        const before = await deps.deployments.get(id);
        if (!before) {
          throw new ApiError(404, "Not found", `No deployment "${id}"`, { field: "path.id" });
        }
        await deps.deployments[action](id).catch((e) => {
          if (e instanceof ComponentError) {
            throw new ApiError(409, "Conflict", e.message, { field: "path.id", cause: e });
          }
          throw e;
        });
        await audit(deps, c, {
          action: `deployment.${action}`,
          target: `deployment/${id}`,
          outcome: "ok",
          before: { state: before.state },
          after: {
            state: action === "resume" ? "running" : action === "pause" ? "paused" : "cancelled",
          },
          reason: null,
        });
        return c.json(deployment(await deps.deployments.get(id)), 200);
      },
    );
  }

  return app;
}

function stripUndefined<T extends Record<string, unknown>>(
  o: T,
): Partial<{ [K in keyof T]: Exclude<T[K], undefined> }> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as never;
}
