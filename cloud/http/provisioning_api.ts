/**
 * Provisioning routes (admin): add a batch of devices with its allowlist (the answer is the
 * batch's claim credential, shown once), see a device's credentials, and revoke a device. Every
 * call is audited, refusals too.
 *
 * @example
 * ```ts
 * import { OpenAPIHono } from "@hono/zod-openapi";
 * import type { FleetEnv } from "./fleet_env.ts";
 * import { provisioningApi, type ProvisioningDeps } from "./provisioning_api.ts";
 * declare const deps: ProvisioningDeps;
 *
 * const app = new OpenAPIHono<FleetEnv>();
 * app.route("/", provisioningApi(deps)); // POST /batches, GET /devices/:id/credentials...
 * ```
 *
 * @module
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { BatchSchema } from "../../protocol/mod.ts";
import { type DeviceProvisioning, ProvisioningError } from "../provisioning/mod.ts";
import {
  audit,
  type FleetDeps,
  type FleetEnv,
  json,
  need,
  problemResponses,
  security,
} from "./fleet_api.ts";
import { DeviceIdSchema } from "../fleet/mod.ts";
import { ApiError } from "./problem.ts";

const IdParam = z.object({ id: DeviceIdSchema });

const CredentialRecord = z.object({
  deviceId: z.string(),
  machineId: z.string(),
  role: z.enum(["primary", "secondary"]),
  region: z.string(),
  peers: z.array(z.string()),
  publicKey: z.string(),
  batchId: z.string(),
  serial: z.string(),
  expiresAt: z.int(),
  revokedAt: z.int().nullable(),
});

/** What the provisioning routes use. */
export interface ProvisioningDeps extends FleetDeps {
  /** Devices' provisioning and revocation. */
  readonly provisioning: DeviceProvisioning;
}

/** The provisioning routes, as a sub-app to mount at `/`. */
export function provisioningApi(deps: ProvisioningDeps): OpenAPIHono<FleetEnv> {
  const app = new OpenAPIHono<FleetEnv>();
  app.openapi(
    createRoute({
      method: "post",
      path: "/batches",
      tags: ["provisioning"],
      summary: "Add a batch of devices and get its claim credential, shown once (admin)",
      security,
      request: { body: { content: { "application/json": { schema: BatchSchema } } } },
      responses: {
        201: json(
          z.object({ batchId: z.string(), devices: z.int(), claimCredentials: z.string() }),
          "The batch's claim credential (a .creds file)",
        ),
        ...problemResponses,
      },
    }),
    async (c) => {
      const body = c.req.valid("json");
      await need(c, deps, "admin", "batch.add", `batch/${body.batchId}`);
      let claimCredentials: string;
      try {
        claimCredentials = await deps.provisioning.addBatch(body);
      } catch (e) {
        if (!(e instanceof ProvisioningError)) throw e;
        throw new ApiError(409, "Conflict", e.message, { field: "body.batchId" });
      }
      await audit(deps, c, {
        action: "batch.add",
        target: `batch/${body.batchId}`,
        outcome: "ok",
        before: null,
        after: { devices: body.devices.length, region: body.region },
        reason: null,
      });
      return c.json({ batchId: body.batchId, devices: body.devices.length, claimCredentials }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/devices/{id}/credentials",
      tags: ["provisioning"],
      summary: "A device's issued credentials: public key, expiry, revocation (admin)",
      security,
      request: { params: IdParam },
      responses: { 200: json(CredentialRecord, "The record"), ...problemResponses },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      await need(c, deps, "admin", "device.credentials", `device/${id}`);
      const record = await deps.provisioning.record(id);
      if (!record) {
        throw new ApiError(404, "Not Found", `Device "${id}" has no credentials`, {
          field: "path.id",
        });
      }
      return c.json(record, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/devices/{id}/revoke",
      tags: ["provisioning"],
      summary: "Revoke a device: it is disconnected and cannot reconnect or renew (admin)",
      security,
      request: { params: IdParam },
      responses: { 200: json(CredentialRecord, "The revoked record"), ...problemResponses },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      await need(c, deps, "admin", "device.revoke", `device/${id}`);
      let record;
      try {
        record = await deps.provisioning.revoke(id);
      } catch (e) {
        if (!(e instanceof ProvisioningError)) throw e;
        throw new ApiError(404, "Not Found", e.message, { field: "path.id" });
      }
      await audit(deps, c, {
        action: "device.revoke",
        target: `device/${id}`,
        outcome: "ok",
        before: null,
        after: { publicKey: record.publicKey, revokedAt: record.revokedAt },
        reason: null,
      });
      return c.json(record, 200);
    },
  );
  return app;
}
