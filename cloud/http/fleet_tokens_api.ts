/**
 * The token route: an admin issues operator tokens, each issue audited.
 *
 * @module
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { audit } from "./audit_log.ts";
import type { FleetDeps, FleetEnv } from "./fleet_env.ts";
import { need } from "./need_role.ts";
import { json, problemResponses, security } from "./openapi_common.ts";

const issueToken = createRoute({
  method: "post",
  path: "/auth/tokens",
  tags: ["auth"],
  summary: "Issue an operator token (admin)",
  security,
  request: {
    body: {
      content: {
        "application/json": {
          schema: z.strictObject({
            subject: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$/),
            role: z.enum(["viewer", "operator", "admin"]),
            ttlSeconds: z.int().min(60).max(30 * 86_400).default(43_200),
          }),
        },
      },
    },
  },
  responses: {
    201: json(z.object({ token: z.string(), expiresAt: z.int() }), "The token"),
    ...problemResponses,
  },
});

/** The token route (`POST /auth/tokens`), issuing with `deps.tokens`. */
export function tokensApi(deps: FleetDeps): OpenAPIHono<FleetEnv> {
  const app = new OpenAPIHono<FleetEnv>();
  app.openapi(issueToken, async (c) => {
    const body = c.req.valid("json");
    await need(c, deps, "admin", "token.issue", `operator/${body.subject}`);
    const token = await deps.tokens.issue({ subject: body.subject, role: body.role }, {
      ttlSeconds: body.ttlSeconds,
    });
    await audit(deps, c, {
      action: "token.issue",
      target: `operator/${body.subject}`,
      outcome: "ok",
      before: null,
      after: { role: body.role },
      reason: null,
    });
    return c.json({ token, expiresAt: Date.now() + body.ttlSeconds * 1000 }, 201);
  });
  return app;
}
