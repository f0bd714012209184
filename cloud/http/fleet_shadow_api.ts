/**
 * The device shadow routes: a device's desired and reported state, and an operator's change to
 * the desired state (the shadow bucket's `<id>.desired` key), which reaches the device through
 * NATS.
 *
 * @module
 */
import { openKv } from "../nats/mod.ts";
import { DesiredShadow, isRevisionConflict } from "../fleet/mod.ts";
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import {
  buckets,
  parseShadow,
  shadowKey,
  type ShadowState,
  ShadowStateSchema,
} from "../../protocol/mod.ts";
import { audit } from "./audit_log.ts";
import { IdParam, view } from "./_device_view.ts";
import { etag, ifMatch } from "./etag.ts";
import type { FleetDeps, FleetEnv } from "./fleet_env.ts";
import { need } from "./need_role.ts";
import { json, Problem, problemResponses, security } from "./openapi_common.ts";
import { plain } from "./plain.ts";
import { ApiError } from "./problem.ts";

const getShadow = createRoute({
  method: "get",
  path: "/devices/{id}/shadow",
  tags: ["shadow"],
  summary: "A device's desired and reported state; the ETag is the desired state's revision",
  security,
  request: { params: IdParam },
  responses: {
    200: json(
      z.object({
        desired: z.record(z.string(), z.unknown()).nullable(),
        reported: z.record(z.string(), z.unknown()).nullable(),
      }),
      "Shadow",
    ),
    ...problemResponses,
  },
});

const patchDesired = createRoute({
  method: "patch",
  path: "/devices/{id}/shadow/desired",
  tags: ["shadow"],
  summary:
    "Change a device's desired state (merged into the current one); it reaches the device through NATS (operator)",
  security,
  request: {
    params: IdParam,
    body: { content: { "application/json": { schema: ShadowStateSchema } } },
  },
  responses: {
    200: json(z.record(z.string(), z.unknown()), "The new desired state"),
    412: json(Problem, "Changed since the ETag"),
    ...problemResponses,
  },
});

/** The shadow routes (`/devices/{id}/shadow`, `/devices/{id}/shadow/desired`) over `deps.nc`. */
export function shadowApi(deps: FleetDeps): OpenAPIHono<FleetEnv> {
  const app = new OpenAPIHono<FleetEnv>();

  app.openapi(getShadow, async (c) => {
    await need(c, deps, "viewer", "shadow.get", "shadow");
    const { id } = c.req.valid("param");
    const kv = await openKv(deps.nc, buckets.shadow, { history: 5 });
    const [d, r] = await Promise.all([
      kv.get(shadowKey(id, "desired")),
      kv.get(shadowKey(id, "reported")),
    ]);
    const desired = d?.value.length ? parseShadow(d.value) : undefined;
    const reported = r?.value.length ? parseShadow(r.value) : undefined;
    if (d?.revision) c.header("ETag", etag(d.revision));
    return c.json({
      desired: desired?.ok ? plain(desired.value) : null,
      reported: reported?.ok ? plain(reported.value) : null,
    }, 200);
  });

  app.openapi(patchDesired, async (c) => {
    const { id } = c.req.valid("param");
    const patch = c.req.valid("json") as ShadowState;
    const actor = await need(c, deps, "operator", "shadow.update", `device/${id}`);
    if (!view(deps, id)) {
      throw new ApiError(404, "Not Found", `No device "${id}"`, { field: "path.id" });
    }
    const expected = ifMatch(c);
    const desired = new DesiredShadow(await openKv(deps.nc, buckets.shadow, { history: 5 }));
    let made;
    try {
      made = await desired.change(id, (before) => ({
        ...before?.state,
        ...patch,
        ...(patch.config || before?.state.config
          ? { config: { ...before?.state.config, ...patch.config } }
          : {}),
        ...(patch.cameras || before?.state.cameras
          ? { cameras: { ...before?.state.cameras, ...patch.cameras } }
          : {}),
      }), { updatedBy: actor.subject, attempts: 1, ...(expected ? { revision: expected } : {}) });
    } catch (cause) {
      if (!isRevisionConflict(cause)) {
        throw cause;
      }
      await audit(deps, c, {
        action: "shadow.update",
        target: `device/${id}`,
        outcome: "refused",
        before: null,
        after: null,
        reason: "changed since the given revision",
      });
      throw new ApiError(
        412,
        "Precondition Failed",
        `The desired state of "${id}" changed meanwhile`,
        {
          field: "header.if-match",
          cause,
        },
      );
    }
    const { before, after, revision } = made!;
    await audit(deps, c, {
      action: "shadow.update",
      target: `device/${id}`,
      outcome: "ok",
      before: before ? plain(before) : null,
      after: plain(after),
      reason: null,
    });
    c.header("ETag", etag(revision));
    return c.json(plain(after), 200);
  });

  return app;
}
