/**
 * HTTP routes of remote updates: publishing component versions (admin), the signing keys
 * devices pin, and deployments (operator): create, read, pause, resume, cancel. A bad recipe, a
 * dependency that no published version satisfies, a dependency cycle, an unknown version or a
 * selector that picks no device are refused with problem+json naming the field; nothing is
 * created then.
 *
 * @module
 */
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { ComponentError, type ComponentRegistry, type DeploymentService } from "../updates/mod.ts";
import {
  audit,
  type FleetDeps,
  type FleetEnv,
  json,
  need,
  problemResponses,
  security,
} from "./fleet_api.ts";
import { ApiError } from "./problem.ts";

/** What the update routes use. */
export interface UpdateDeps extends FleetDeps {
  readonly registry: ComponentRegistry;
  readonly deployments: DeploymentService;
}

const Name = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/);
const ArtifactName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/);
/** Largest artifact upload. */
export const MAX_UPLOAD_BYTES = 1 << 30;
const DeploymentId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{7,63}$/);
const Target = z.strictObject({ component: Name, version: z.string().min(1).max(64) });
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
const plain = (d: unknown) => JSON.parse(JSON.stringify(d)) as z.infer<typeof Deployment>;

function refused(e: unknown, prefix: string): never {
  if (e instanceof ComponentError) {
    throw new ApiError(400, "Refused", e.message, { field: `${prefix}${e.field}`, cause: e });
  }
  throw e;
}

/** Adds the update routes to `app`. */
export function updateRoutes(app: OpenAPIHono<FleetEnv>, deps: UpdateDeps): void {
  app.openapi(
    createRoute({
      method: "post",
      path: "/components/versions",
      tags: ["updates"],
      summary: "Publish a component version: recipe and artifacts (admin)",
      security,
      request: {
        body: {
          content: {
            "application/json": {
              schema: z.strictObject({
                recipe: z.unknown(),
                artifacts: z.array(z.union([
                  z.strictObject({
                    name: z.string().min(1).max(128),
                    /** The artifact's bytes, base64 (small artifacts). */
                    base64: z.string().max(96 << 20),
                  }),
                  z.strictObject({
                    name: z.string().min(1).max(128),
                    /** Uploaded before with `PUT .../artifacts/{name}` (any size). */
                    uploaded: z.literal(true),
                  }),
                ])).min(1).max(64),
              }),
            },
          },
        },
      },
      responses: {
        201: json(
          z.object({ component: z.string(), version: z.string(), keyId: z.string() }),
          "Published",
        ),
        ...problemResponses,
      },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const recipe = body.recipe as { component?: string; version?: string };
      const target = `component/${recipe?.component ?? "?"}@${recipe?.version ?? "?"}`;
      await need(c, deps, "admin", "component.publish", target);
      const artifacts: { name: string; data: Uint8Array }[] = [];
      for (const [i, a] of body.artifacts.entries()) {
        if ("uploaded" in a) {
          const data = typeof recipe?.component === "string" && typeof recipe.version === "string"
            ? await deps.registry.uploaded({
              component: recipe.component,
              version: recipe.version,
              name: a.name,
            })
            : undefined;
          if (!data) {
            throw new ApiError(400, "Refused", `No upload of "${a.name}" for ${target}`, {
              field: `body.artifacts[${i}].uploaded`,
            });
          }
          artifacts.push({ name: a.name, data });
          continue;
        }
        try {
          artifacts.push({
            name: a.name,
            data: Uint8Array.from(atob(a.base64), (ch) => ch.charCodeAt(0)),
          });
        } catch (e) {
          // atob's InvalidCharacterError; anything else is not the request's fault.
          if (!(e instanceof DOMException)) throw e;
          throw new ApiError(400, "Refused", `Artifact ${i} is not base64`, {
            field: `body.artifacts[${i}].base64`,
          });
        }
      }
      const signed = await deps.registry.publish(body.recipe, artifacts).catch((e) =>
        refused(e, "body.recipe.")
      );
      for (const a of body.artifacts) {
        if ("uploaded" in a) {
          await deps.registry.dropUpload({
            component: recipe.component!,
            version: recipe.version!,
            name: a.name,
          });
        }
      }
      await audit(deps, c, {
        action: "component.publish",
        target,
        outcome: "ok",
        before: null,
        after: { keyId: signed.keyId },
        reason: null,
      });
      return c.json(
        { component: recipe.component!, version: recipe.version!, keyId: signed.keyId },
        201,
      );
    },
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/components/{component}/versions/{version}/artifacts/{name}",
      tags: ["updates"],
      summary: "Upload an artifact of a version about to be published, streamed (admin)",
      description: "The raw bytes (up to 1 GiB); then publish the version with " +
        '`{"name": NAME, "uploaded": true}` among its artifacts. Uploads are kept a day.',
      security,
      request: {
        params: z.object({
          component: Name,
          version: z.string().min(1).max(64),
          name: ArtifactName,
        }),
        body: {
          content: {
            "application/octet-stream": { schema: z.string().openapi({ format: "binary" }) },
          },
        },
      },
      responses: {
        201: json(z.object({ name: z.string(), bytes: z.int(), sha256: z.string() }), "Uploaded"),
        ...problemResponses,
      },
    }),
    async (c) => {
      const { component, version, name } = c.req.valid("param");
      const target = `component/${component}@${version}`;
      await need(c, deps, "admin", "component.upload", target);
      const body = c.req.raw.body;
      if (!body) {
        throw new ApiError(400, "Refused", "The upload has no body", { field: "body" });
      }
      let got: { bytes: number; sha256: string };
      try {
        got = await deps.registry.upload({ component, version, name }, body, {
          maxBytes: MAX_UPLOAD_BYTES,
        });
      } catch (e) {
        if (e instanceof RangeError) {
          throw new ApiError(413, "Payload Too Large", e.message, { field: "body", cause: e });
        }
        throw e;
      }
      return c.json({ name, ...got }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/components/{component}/versions",
      tags: ["updates"],
      summary: "Published versions of a component",
      security,
      request: { params: z.object({ component: Name }) },
      responses: {
        200: json(z.object({ versions: z.array(z.string()) }), "Versions"),
        ...problemResponses,
      },
    }),
    async (c) => {
      const { component } = c.req.valid("param");
      await need(c, deps, "viewer", "component.read", `component/${component}`);
      return c.json({ versions: await deps.registry.versions(component) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/update-keys",
      tags: ["updates"],
      summary: "The public keys devices pin to verify component versions",
      security,
      responses: {
        200: json(
          z.object({ keys: z.array(z.object({ keyId: z.string(), publicKey: z.string() })) }),
          "Keys",
        ),
        ...problemResponses,
      },
    }),
    async (c) => {
      await need(c, deps, "viewer", "keys.read", "update-keys");
      return c.json({ keys: await deps.registry.trustedKeys() }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/deployments",
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
              }),
            },
          },
        },
      },
      responses: { 201: json(Deployment, "The deployment"), ...problemResponses },
    }),
    async (c) => {
      const body = c.req.valid("json");
      await need(c, deps, "operator", "deployment.create", "deployments");
      const d = await deps.deployments.create({
        targets: body.targets,
        selector: stripUndefined(body.selector),
        ...(body.policy ? { policy: stripUndefined(body.policy) } : {}),
      }).catch((e) => refused(e, "body."));
      await audit(deps, c, {
        action: "deployment.create",
        target: `deployment/${d.id}`,
        outcome: "ok",
        before: null,
        after: { targets: plain(d).targets, devices: d.devices.length },
        reason: null,
      });
      return c.json(plain(await deps.deployments.get(d.id)), 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/deployments/{id}",
      tags: ["updates"],
      summary: "A deployment, with its devices counted by status",
      security,
      request: { params: z.object({ id: DeploymentId }) },
      responses: { 200: json(Deployment, "The deployment"), ...problemResponses },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      await need(c, deps, "viewer", "deployment.read", `deployment/${id}`);
      const d = await deps.deployments.get(id);
      if (!d) throw new ApiError(404, "Not found", `No deployment "${id}"`, { field: "path.id" });
      return c.json(plain(d), 200);
    },
  );

  for (const action of ["pause", "resume", "cancel"] as const) {
    app.openapi(
      createRoute({
        method: "post",
        path: `/deployments/{id}/${action}`,
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
        return c.json(plain(await deps.deployments.get(id)), 200);
      },
    );
  }
}

function stripUndefined<T extends Record<string, unknown>>(
  o: T,
): Partial<{ [K in keyof T]: Exclude<T[K], undefined> }> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as never;
}
