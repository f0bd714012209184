/**
 * The update-key route (mounted at `/update-keys`): the public keys devices pin to verify the
 * component versions they are sent.
 *
 * @module
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { type FleetEnv, json, need, problemResponses, security } from "./fleet_api.ts";
import type { UpdateDeps } from "./update_api_common.ts";

const listKeys = createRoute({
  method: "get",
  path: "/",
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
});

/** The update-key route, to mount at `/update-keys`, over `deps.registry`. */
export function updateKeysApi(deps: UpdateDeps): OpenAPIHono<FleetEnv> {
  const app = new OpenAPIHono<FleetEnv>();
  app.openapi(listKeys, async (c) => {
    await need(c, deps, "viewer", "keys.read", "update-keys");
    return c.json({ keys: await deps.registry.trustedKeys() }, 200);
  });
  return app;
}
