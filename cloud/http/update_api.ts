/**
 * HTTP routes of remote updates: publishing component versions (admin), the signing keys
 * devices pin, and deployments (operator): create, read, pause, resume, cancel. A bad recipe, a
 * dependency that no published version satisfies, a dependency cycle, an unknown version or a
 * selector that picks no device are refused with problem+json naming the field; nothing is
 * created then. Each resource is a sub-app of its own file (`update_*_api.ts`), composed here.
 *
 * @module
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import type { FleetEnv } from "./fleet_api.ts";
import type { UpdateDeps } from "./update_api_common.ts";
import { componentsApi } from "./update_components_api.ts";
import { deploymentsApi } from "./update_deployments_api.ts";
import { updateKeysApi } from "./update_keys_api.ts";

export type { UpdateDeps } from "./update_api_common.ts";
export { MAX_UPLOAD_BYTES } from "./update_components_api.ts";

/** The update routes, as a sub-app to mount at `/`. */
export function updateApi(deps: UpdateDeps): OpenAPIHono<FleetEnv> {
  const app = new OpenAPIHono<FleetEnv>();
  // The application's validation hook and error handler answer for the sub-apps' routes.
  app.route("/components", componentsApi(deps));
  app.route("/update-keys", updateKeysApi(deps));
  app.route("/deployments", deploymentsApi(deps));
  return app;
}
