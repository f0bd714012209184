/**
 * The component routes (mounted at `/components`): publishing a version with its recipe and
 * artifacts (admin), uploading a large artifact beforehand, streamed, and a component's
 * published versions. A bad recipe, a dependency that no published version satisfies or a
 * dependency cycle is refused with problem+json naming the field; nothing is published then.
 *
 * @module
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { audit, type FleetEnv, json, need, problemResponses, security } from "./fleet_api.ts";
import { ApiError } from "./problem.ts";
import { ComponentName, refused, type UpdateDeps } from "./update_api_common.ts";

const ArtifactName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/);
/** Largest artifact upload. */
export const MAX_UPLOAD_BYTES = 1 << 30;

const PublishBody = z.strictObject({
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
});

const publishVersion = createRoute({
  method: "post",
  path: "/versions",
  tags: ["updates"],
  summary: "Publish a component version: recipe and artifacts (admin)",
  security,
  request: { body: { content: { "application/json": { schema: PublishBody } } } },
  responses: {
    201: json(
      z.object({ component: z.string(), version: z.string(), keyId: z.string() }),
      "Published",
    ),
    ...problemResponses,
  },
});

const uploadArtifact = createRoute({
  method: "put",
  path: "/{component}/versions/{version}/artifacts/{name}",
  tags: ["updates"],
  summary: "Upload an artifact of a version about to be published, streamed (admin)",
  description: "The raw bytes (up to 1 GiB); then publish the version with " +
    '`{"name": NAME, "uploaded": true}` among its artifacts. Uploads are kept a day.',
  security,
  request: {
    params: z.object({
      component: ComponentName,
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
});

const listVersions = createRoute({
  method: "get",
  path: "/{component}/versions",
  tags: ["updates"],
  summary: "Published versions of a component",
  security,
  request: { params: z.object({ component: ComponentName }) },
  responses: {
    200: json(z.object({ versions: z.array(z.string()) }), "Versions"),
    ...problemResponses,
  },
});

/** The recipe's name and version, as far as it has them (the registry checks it whole). */
type RecipeHead = { component?: string; version?: string };

/**
 * The bytes of the artifacts a publication names: decoded from base64, or the uploads made
 * before for this version. Refused (400, naming the artifact) when one is neither.
 */
async function artifactBytes(
  artifacts: z.infer<typeof PublishBody>["artifacts"],
  options: { deps: UpdateDeps; recipe: RecipeHead; target: string },
): Promise<{ name: string; data: Uint8Array }[]> {
  const { deps, recipe, target } = options;
  const out: { name: string; data: Uint8Array }[] = [];
  for (const [i, a] of artifacts.entries()) {
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
      out.push({ name: a.name, data });
      continue;
    }
    try {
      out.push({
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
  return out;
}

/** The component routes, to mount at `/components`, over `deps.registry`. */
export function componentsApi(deps: UpdateDeps): OpenAPIHono<FleetEnv> {
  const app = new OpenAPIHono<FleetEnv>();

  app.openapi(publishVersion, async (c) => {
    const body = c.req.valid("json");
    const recipe = body.recipe as RecipeHead;
    const target = `component/${recipe?.component ?? "?"}@${recipe?.version ?? "?"}`;
    await need(c, deps, "admin", "component.publish", target);
    const artifacts = await artifactBytes(body.artifacts, { deps, recipe, target });
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
  });

  app.openapi(uploadArtifact, async (c) => {
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
  });

  app.openapi(listVersions, async (c) => {
    const { component } = c.req.valid("param");
    await need(c, deps, "viewer", "component.read", `component/${component}`);
    return c.json({ versions: await deps.registry.versions(component) }, 200);
  });

  return app;
}
