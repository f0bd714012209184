/**
 * The API's description: the OpenAPI document (`/openapi.json`) and Swagger UI (`/docs`).
 *
 * @module
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { FleetEnv } from "./http/mod.ts";

/** Serves `/openapi.json` (from the routes registered so far and after), `/docs` and its assets. */
export function serveApiDocs(app: OpenAPIHono<FleetEnv>): void {
  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "Vendstream fleet API",
      version: "1",
      description: "Fleet state, device shadows, commands, alerts and audit over NATS JetStream",
    },
  });
  app.get(
    "/docs",
    (c) =>
      c.html(`<!doctype html><html><head><meta charset="utf-8"><title>Vendstream API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head><body><div id="ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({ url: "/openapi.json", dom_id: "#ui" });</script></body></html>`),
  );
  app.get("/docs/assets/:file{swagger-ui\\.css|swagger-ui-bundle\\.js}", async (c) => {
    const file = c.req.param("file");
    const res = await fetch(import.meta.resolve(`swagger-ui-dist/${file}`));
    return new Response(res.body, {
      headers: {
        "content-type": file.endsWith(".css") ? "text/css" : "text/javascript",
        "cache-control": "max-age=3600",
      },
    });
  });
}
