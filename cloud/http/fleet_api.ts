/**
 * The fleet API: devices and machines, groups, regions, device shadows, commands, alerts and
 * the audit log, over the state in JetStream. Every route is described by zod schemas that
 * also generate the OpenAPI document.
 *
 * @module
 */
import { openKv } from "../nats/mod.ts";
import type { PaymentService, PriceBook } from "../checkout/mod.ts";
import {
  AlertRecordSchema,
  type CommandRecord,
  CommandRecordSchema,
  CommandSender,
  DeviceIdSchema,
  DeviceInputSchema,
  type DeviceRecord,
  type DeviceView,
  DeviceViewSchema,
  type FleetState,
  GroupInputSchema,
  GroupRecordSchema,
  InvalidCommandError,
  isRevisionConflict,
  putJson,
  type RegionSummaries,
  RevisionConflictError,
} from "../fleet/mod.ts";
import {
  type Actor,
  allows,
  type CustomerAuth,
  type Role,
  type TokenService,
} from "../auth/mod.ts";
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import type { Context } from "hono";
import {
  ALERT_KINDS,
  type AuditEntry,
  auditEntry,
  buckets,
  COMMAND_NAMES,
  newEnvelope,
  parseAuditEntry,
  parseShadow,
  shadow,
  shadowKey,
  type ShadowState,
  ShadowStateSchema,
  streamName,
  subjects,
} from "../../protocol/mod.ts";
import type { ComponentRegistry, DeploymentService } from "../updates/mod.ts";
import type { DeviceProvisioning } from "../provisioning/mod.ts";
import { ApiError } from "./problem.ts";
import type { Logger } from "../../runtime/mod.ts";

/** What the fleet routes need. */
export interface FleetDeps {
  /** The instance's NATS connection. */
  readonly nc: NatsConnection;
  /** Buckets and replicas. */
  readonly state: FleetState;
  /** Token issuing and checking. */
  readonly tokens: TokenService;
  /** Region this instance serves. */
  readonly region: string;
  /** Component versions (remote updates); without it the update routes are not served. */
  readonly registry?: ComponentRegistry;
  /** Deployments (remote updates). */
  readonly deployments?: DeploymentService;
  /** Payments; without it the payment routes are not served. */
  readonly payments?: PaymentService;
  /** Stripe's webhook signing secret; without it the webhook route is not served. */
  readonly stripeWebhookSecret?: string;
  /** Stripe's publishable key: the customer app adds cards with Stripe Elements. */
  readonly stripePublishableKey?: string;
  /** Customers' sign-in; without it the customer app (/app) is not served. */
  readonly customerAuth?: CustomerAuth;
  /** The service's public base URL (what QR codes point at). Default: each request's origin. */
  readonly publicUrl?: string;
  /** Devices' provisioning and revocation; without it those routes are not served. */
  readonly provisioning?: DeviceProvisioning;
  /** The price lists (the price routes need it). */
  readonly prices?: PriceBook;
  /** Every region's device counts (`GET /regions` shows only this one's without it). */
  readonly summaries?: RegionSummaries;
  /** Where failures that do not fail a request are logged. */
  readonly logger?: Logger;
}

/** Variables the middleware sets on each request. */
export type FleetEnv = { Variables: { actor: Actor | undefined; requestId: string } };

/** The schema of a problem+json body. */
export const Problem = z.object({
  type: z.string(),
  title: z.string(),
  status: z.int(),
  detail: z.string(),
  field: z.string().optional(),
})
  .openapi("Problem");
export const problemResponses = {
  400: {
    content: { "application/problem+json": { schema: Problem } },
    description: "Invalid request; `field` names the culprit",
  },
  401: {
    content: { "application/problem+json": { schema: Problem } },
    description: "Missing or invalid token",
  },
  403: {
    content: { "application/problem+json": { schema: Problem } },
    description: "The token's role does not allow this",
  },
  404: { content: { "application/problem+json": { schema: Problem } }, description: "Not found" },
} as const;
/** An OpenAPI JSON response of `schema`. */
export const json = <T extends z.ZodType>(
  schema: T,
  description: string,
): { content: { "application/json": { schema: T } }; description: string } => ({
  content: { "application/json": { schema } },
  description,
});
/** The OpenAPI security requirement of operator routes (bearer token). */
export const security: { bearer: string[] }[] = [{ bearer: [] }];
const IdParam = z.object({ id: DeviceIdSchema });

/** Requires a role; refusals are audited. */
export async function need(
  c: Context<FleetEnv>,
  deps: FleetDeps,
  role: Role,
  action: string,
  target: string,
): Promise<Actor> {
  const actor = c.get("actor");
  if (!actor) throw new ApiError(401, "Unauthorized", "A bearer token is required");
  if (!allows(actor, role)) {
    await audit(deps, c, {
      action,
      target,
      outcome: "refused",
      before: null,
      after: null,
      reason: `role ${actor.role} lacks ${role}`,
    });
    throw new ApiError(403, "Forbidden", `Role ${actor.role} may not ${action} (needs ${role})`);
  }
  return actor;
}

/** Appends an audit entry to the AUDIT stream. */
export async function audit(
  deps: FleetDeps,
  c: Context<FleetEnv>,
  entry: Pick<AuditEntry, "action" | "target" | "outcome" | "before" | "after" | "reason">,
): Promise<void> {
  const actor = c.get("actor");
  const record: AuditEntry = {
    ...newEnvelope(),
    actor: actor
      ? { subject: actor.subject, role: actor.role }
      : { subject: "anonymous", role: "anonymous" },
    requestId: c.get("requestId"),
    ...entry,
  };
  await jetstream(deps.nc).publish(
    subjects.audit(deps.region, entry.action),
    auditEntry.encode(record),
    { msgID: record.id },
  );
}

/** A JSON-clean copy of `value` (undefined fields dropped), typed for JSON fields of the API and audit. */
export function plain(value: object): Record<string, never> {
  return JSON.parse(JSON.stringify(value));
}

/** The ETag of a KV revision. */
export function etag(revision: number): string {
  return `"${revision}"`;
}

/** The revision an If-Match header asks for: undefined without one, else a positive integer. */
export function ifMatch(c: Context): number | undefined {
  const header = c.req.header("if-match");
  if (header === undefined) return undefined;
  const m = /^"?(\d{1,15})"?$/.exec(header.trim());
  if (!m || Number(m[1]) <= 0) {
    throw new ApiError(
      400,
      "Invalid If-Match",
      `If-Match must be an ETag from this API, got ${JSON.stringify(header)}`,
      { field: "header.if-match" },
    );
  }
  return Number(m[1]);
}

function view(deps: FleetDeps, id: string): DeviceView | undefined {
  const record = deps.state.devices.get(id)?.value ?? null;
  const status = deps.state.statuses.get(id)?.value ?? null;
  if (!record && !status) return undefined;
  return { id, registered: record !== null, record, status };
}

function inGroup(deps: FleetDeps, groupId: string, v: DeviceView): boolean {
  if (v.record?.groups.includes(groupId)) return true;
  const group = deps.state.groups.get(groupId)?.value;
  if (!group || group.tagQuery.length === 0 || !v.record) return false;
  return group.tagQuery.every((t) => v.record!.tags.includes(t));
}

const cursorOf = (id: string) => btoa(id).replaceAll("=", "");
function afterCursor(cursor: string | undefined): string {
  if (!cursor) return "";
  try {
    const id = atob(cursor);
    if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(id)) throw new Error("bad");
    return id;
  } catch {
    throw new ApiError(400, "Invalid cursor", "The cursor is not one this API returned", {
      field: "query.cursor",
    });
  }
}

/** Adds the fleet routes to `app`. */
export function fleetRoutes(app: OpenAPIHono<FleetEnv>, deps: FleetDeps): void {
  const { state } = deps;
  const commands = new CommandSender(deps.nc, state, deps.logger ? { logger: deps.logger } : {});
  // Sorted device ids, overall and per status, rebuilt only after membership changes.
  let sorted: string[] | undefined;
  const members = new Map<string, Set<string>>([["online", new Set()], ["offline", new Set()]]);
  const sortedMembers = new Map<string, string[]>();
  for (const [id, e] of state.statuses.entries()) members.get(e.value.status)?.add(id);
  state.devices.onChange((key, entry) => {
    if (entry === undefined || !state.statuses.get(key)) sorted = undefined;
  });
  state.statuses.onChange((key, entry) => {
    if (entry === undefined || entry.revision === state.statuses.firstRevision(key)) {
      sorted = undefined;
    }
    for (const [status, set] of members) {
      const want = entry?.value.status === status;
      if (want !== set.has(key)) {
        if (want) set.add(key);
        else set.delete(key);
        sortedMembers.delete(status);
      }
    }
  });
  const sortedIds = (status?: string): string[] => {
    if (status === "online" || status === "offline") {
      let list = sortedMembers.get(status);
      if (!list) sortedMembers.set(status, list = [...members.get(status)!].sort());
      return list;
    }
    if (sorted) return sorted;
    const ids = new Set<string>();
    for (const [id] of state.devices.entries()) ids.add(id);
    for (const [id] of state.statuses.entries()) ids.add(id);
    sorted = [...ids].sort();
    return sorted;
  };

  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
  });

  // ---- tokens
  app.openapi(
    createRoute({
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
    }),
    async (c) => {
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
    },
  );

  // ---- devices
  app.openapi(
    createRoute({
      method: "get",
      path: "/devices",
      tags: ["devices"],
      summary: "List devices, filtered, by cursor",
      security,
      request: {
        query: z.object({
          status: z.enum(["online", "offline", "unknown"]).optional(),
          group: DeviceIdSchema.optional(),
          region: DeviceIdSchema.optional(),
          version: z.string().max(64).optional(),
          tag: z.string().max(64).optional(),
          cursor: z.string().max(100).optional(),
          limit: z.coerce.number().int().min(1).max(500).default(50),
        }),
      },
      responses: {
        200: json(
          z.object({
            items: z.array(DeviceViewSchema),
            nextCursor: z.string().nullable(),
            total: z.int(),
          }),
          "A page of devices",
        ),
        ...problemResponses,
      },
    }),
    async (c) => {
      await need(c, deps, "viewer", "device.list", "devices");
      const q = c.req.valid("query");
      const after = afterCursor(q.cursor);
      // Cheap checks on the replicas first; views are built only for the page.
      const matching: string[] = [];
      for (const id of sortedIds(q.status)) {
        const status = state.statuses.get(id)?.value;
        if (q.status && (status?.status ?? "unknown") !== q.status) continue;
        const record = state.devices.get(id)?.value;
        if (q.region && (record?.region ?? status?.region) !== q.region) continue;
        if (q.version && status?.appVersion !== q.version) continue;
        if (q.tag && !record?.tags.includes(q.tag)) continue;
        if (
          q.group &&
          !inGroup(deps, q.group, {
            id,
            registered: !!record,
            record: record ?? null,
            status: status ?? null,
          })
        ) continue;
        matching.push(id);
      }
      const start = after ? matching.findIndex((id) => id > after) : 0;
      const page = (start < 0 ? [] : matching.slice(start, start + q.limit)).map((id) =>
        view(deps, id)!
      );
      const last = page.at(-1);
      const more = start >= 0 && start + q.limit < matching.length;
      return c.json({
        items: page,
        nextCursor: more && last ? cursorOf(last.id) : null,
        total: matching.length,
      }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/devices/{id}",
      tags: ["devices"],
      summary: "One device; its ETag is the registry revision",
      security,
      request: { params: IdParam },
      responses: { 200: json(DeviceViewSchema, "The device"), ...problemResponses },
    }),
    async (c) => {
      await need(c, deps, "viewer", "device.get", "devices");
      const { id } = c.req.valid("param");
      const v = view(deps, id);
      if (!v) throw new ApiError(404, "Not Found", `No device "${id}"`, { field: "path.id" });
      const rev = state.devices.get(id)?.revision;
      if (rev) c.header("ETag", etag(rev));
      return c.json(v, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/devices/{id}",
      tags: ["devices"],
      summary: "Register a device (no If-Match) or update it (If-Match: its ETag) (admin)",
      security,
      request: {
        params: IdParam,
        body: { content: { "application/json": { schema: DeviceInputSchema } } },
      },
      responses: {
        200: json(DeviceViewSchema, "Updated"),
        201: json(DeviceViewSchema, "Registered"),
        409: json(Problem, "Exists already"),
        412: json(Problem, "Changed since the ETag"),
        ...problemResponses,
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const input = c.req.valid("json");
      await need(c, deps, "admin", "device.put", `device/${id}`);
      const expected = ifMatch(c);
      const before = state.devices.get(id);
      const now = Date.now();
      const record: DeviceRecord = {
        ...input,
        id,
        createdAt: before?.value.createdAt ?? now,
        updatedAt: now,
      };
      let revision: number;
      try {
        revision = await putJson(state.registry, `device.${id}`, record, expected ?? 0);
      } catch (e) {
        if (!(e instanceof RevisionConflictError)) throw e;
        await audit(deps, c, {
          action: "device.put",
          target: `device/${id}`,
          outcome: "refused",
          before: null,
          after: null,
          reason: e.message,
        });
        if (expected === undefined) {
          throw new ApiError(
            409,
            "Conflict",
            `Device "${id}" is registered already: update it with If-Match`,
          );
        }
        throw new ApiError(
          412,
          "Precondition Failed",
          `Device "${id}" changed since revision ${expected}`,
          { field: "header.if-match" },
        );
      }
      await state.devices.caughtUp(id, revision);
      await audit(deps, c, {
        action: "device.put",
        target: `device/${id}`,
        outcome: "ok",
        before: before ? plain(before.value) : null,
        after: plain(record),
        reason: null,
      });
      c.header("ETag", etag(revision));
      return c.json(view(deps, id)!, expected === undefined ? 201 : 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/machines",
      tags: ["devices"],
      summary: "Machines: the devices of each cabinet",
      security,
      responses: {
        200: json(
          z.object({ items: z.array(z.object({ id: z.string(), devices: z.array(z.string()) })) }),
          "Machines",
        ),
        ...problemResponses,
      },
    }),
    async (c) => {
      await need(c, deps, "viewer", "machine.list", "machines");
      const machines = new Map<string, Set<string>>();
      const add = (m: string, d: string) => machines.set(m, (machines.get(m) ?? new Set()).add(d));
      for (const [id, e] of state.devices.entries()) add(e.value.machineId, id);
      for (const [id, e] of state.statuses.entries()) add(e.value.machineId, id);
      const items = [...machines].sort(([a], [b]) => a.localeCompare(b)).map(([id, d]) => ({
        id,
        devices: [...d].sort(),
      }));
      return c.json({ items }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/regions",
      tags: ["devices"],
      summary:
        "Every region and how many devices it serves and has online: this one counted now, the others from the summary each writes every few seconds (stale when old)",
      security,
      responses: {
        200: json(
          z.object({
            items: z.array(z.object({
              id: z.string(),
              devices: z.int(),
              online: z.int(),
              homes: z.record(z.string(), z.object({ devices: z.int(), online: z.int() }))
                .optional()
                .describe("The same counts by the devices' home region"),
              source: z.enum(["live", "summary"]).optional(),
              stale: z.boolean().optional(),
              updatedAt: z.int().optional(),
            })),
          }),
          "Regions",
        ),
        ...problemResponses,
      },
    }),
    async (c) => {
      await need(c, deps, "viewer", "region.list", "regions");
      if (deps.summaries) {
        const items = deps.summaries.list().map(({ region, at, ...r }) => ({
          id: region,
          ...r,
          updatedAt: at,
        }));
        return c.json({ items }, 200);
      }
      const regions = new Map<string, { devices: number; online: number }>([[deps.region, {
        devices: 0,
        online: 0,
      }]]);
      for (const [, e] of state.statuses.entries()) {
        const r = regions.get(e.value.region) ?? { devices: 0, online: 0 };
        r.devices++;
        if (e.value.status === "online") r.online++;
        regions.set(e.value.region, r);
      }
      return c.json({ items: [...regions].map(([id, r]) => ({ id, ...r })) }, 200);
    },
  );

  // ---- groups
  app.openapi(
    createRoute({
      method: "put",
      path: "/groups/{id}",
      tags: ["groups"],
      summary:
        "Create or update a group: static members name it in their `groups`; a tag query adds every device with all its tags (admin)",
      security,
      request: {
        params: IdParam,
        body: { content: { "application/json": { schema: GroupInputSchema } } },
      },
      responses: {
        200: json(GroupRecordSchema, "Stored"),
        412: json(Problem, "Changed since the ETag"),
        ...problemResponses,
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const input = c.req.valid("json");
      await need(c, deps, "admin", "group.put", `group/${id}`);
      const before = state.groups.get(id);
      const now = Date.now();
      const record = { ...input, id, createdAt: before?.value.createdAt ?? now, updatedAt: now };
      const expected = ifMatch(c);
      let revision: number;
      try {
        revision = await putJson(state.registry, `group.${id}`, record, expected);
      } catch (e) {
        if (e instanceof RevisionConflictError) {
          throw new ApiError(412, "Precondition Failed", e.message, { field: "header.if-match" });
        }
        throw e;
      }
      await state.groups.caughtUp(id, revision);
      await audit(deps, c, {
        action: "group.put",
        target: `group/${id}`,
        outcome: "ok",
        before: before ? plain(before.value) : null,
        after: plain(record),
        reason: null,
      });
      c.header("ETag", etag(revision));
      return c.json(record, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/groups",
      tags: ["groups"],
      summary: "List groups with their member counts",
      security,
      responses: {
        200: json(
          z.object({ items: z.array(GroupRecordSchema.extend({ members: z.int() })) }),
          "Groups",
        ),
        ...problemResponses,
      },
    }),
    async (c) => {
      await need(c, deps, "viewer", "group.list", "groups");
      const views = [...new Set([...[...state.devices.entries()].map(([id]) => id)])].map((id) =>
        view(deps, id)!
      );
      const items = [...state.groups.entries()].map(([id, e]) => ({
        ...e.value,
        members: views.filter((v) => inGroup(deps, id, v)).length,
      }));
      return c.json({ items }, 200);
    },
  );

  // ---- shadow
  app.openapi(
    createRoute({
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
    }),
    async (c) => {
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
    },
  );

  app.openapi(
    createRoute({
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
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const patch = c.req.valid("json") as ShadowState;
      const actor = await need(c, deps, "operator", "shadow.update", `device/${id}`);
      if (!view(deps, id)) {
        throw new ApiError(404, "Not Found", `No device "${id}"`, { field: "path.id" });
      }
      const kv = await openKv(deps.nc, buckets.shadow, { history: 5 });
      const current = await kv.get(shadowKey(id, "desired"));
      const expected = ifMatch(c);
      const parsed = current?.value.length ? parseShadow(current.value) : undefined;
      const before = parsed?.ok && parsed.value.kind === "desired" ? parsed.value : undefined;
      const state: ShadowState = {
        ...before?.state,
        ...patch,
        ...(patch.config || before?.state.config
          ? { config: { ...before?.state.config, ...patch.config } }
          : {}),
        ...(patch.cameras || before?.state.cameras
          ? { cameras: { ...before?.state.cameras, ...patch.cameras } }
          : {}),
      };
      const desired = {
        ...newEnvelope(),
        deviceId: id,
        kind: "desired" as const,
        version: (before?.version ?? 0) + 1,
        state,
        updatedBy: actor.subject,
      };
      const data = shadow.encode(desired);
      let revision: number;
      try {
        const base = expected ?? current?.revision ?? 0;
        revision = base === 0
          ? await kv.create(shadowKey(id, "desired"), data)
          : await kv.update(shadowKey(id, "desired"), data, base);
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
      await audit(deps, c, {
        action: "shadow.update",
        target: `device/${id}`,
        outcome: "ok",
        before: before ? plain(before) : null,
        after: plain(desired),
        reason: null,
      });
      c.header("ETag", etag(revision));
      return c.json(plain(desired), 200);
    },
  );

  // ---- commands
  const CommandBody = z.strictObject({
    command: z.enum(COMMAND_NAMES),
    args: z.record(z.string(), z.unknown()).default({}),
    ttlMs: z.int().min(1000).max(600_000).default(30_000),
  });
  app.openapi(
    createRoute({
      method: "post",
      path: "/devices/{id}/commands",
      tags: ["commands"],
      summary: "Send a command to a device; follow it at /commands/{commandId} (operator)",
      security,
      request: {
        params: IdParam,
        body: { content: { "application/json": { schema: CommandBody } } },
      },
      responses: { 202: json(CommandRecordSchema, "Sent"), ...problemResponses },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const body = c.req.valid("json");
      const actor = await need(c, deps, "operator", `command.${body.command}`, `device/${id}`);
      const v = view(deps, id);
      if (!v) throw new ApiError(404, "Not Found", `No device "${id}"`, { field: "path.id" });
      const region = v.status?.region ?? v.record?.region ?? deps.region;
      let record: CommandRecord;
      try {
        ({ record } = await commands.send({
          deviceId: id,
          region,
          command: body.command,
          args: body.args,
          issuer: actor.subject,
          ttlMs: body.ttlMs,
        }));
      } catch (e) {
        if (!(e instanceof InvalidCommandError)) throw e;
        throw new ApiError(400, "Invalid command", e.message, { field: `body.${e.field}` });
      }
      await audit(deps, c, {
        action: `command.${body.command}`,
        target: `device/${id}`,
        outcome: "ok",
        before: null,
        after: plain({ commandId: record.id, args: body.args }),
        reason: null,
      });
      c.header("Location", `/commands/${record.id}`);
      return c.json(record, 202);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/commands/{id}",
      tags: ["commands"],
      summary: "A command's status and result",
      security,
      request: { params: z.object({ id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{7,63}$/) }) },
      responses: { 200: json(CommandRecordSchema, "The command"), ...problemResponses },
    }),
    async (c) => {
      await need(c, deps, "viewer", "command.get", "commands");
      const { id } = c.req.valid("param");
      const e = await state.commands.get(id);
      if (!e?.value.length) {
        throw new ApiError(404, "Not Found", `No command "${id}"`, { field: "path.id" });
      }
      return c.json(CommandRecordSchema.parse(JSON.parse(new TextDecoder().decode(e.value))), 200);
    },
  );

  // ---- alerts and audit
  app.openapi(
    createRoute({
      method: "get",
      path: "/alerts",
      tags: ["alerts"],
      summary: "Alerts currently raised",
      security,
      request: {
        query: z.object({
          kind: z.enum(ALERT_KINDS).optional(),
        }),
      },
      responses: {
        200: json(z.object({ items: z.array(AlertRecordSchema) }), "Alerts"),
        ...problemResponses,
      },
    }),
    async (c) => {
      await need(c, deps, "viewer", "alert.list", "alerts");
      const { kind } = c.req.valid("query");
      const items = [...state.raised.entries()].map(([, e]) => e.value).filter((a) =>
        !kind || a.kind === kind
      )
        .sort((a, b) => b.since - a.since);
      return c.json({ items }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/audit",
      tags: ["audit"],
      summary: "The audit log, newest last, by stream sequence (operator)",
      security,
      request: {
        query: z.object({
          after: z.coerce.number().int().min(0).default(0).openapi({
            description: "Stream sequence to start after",
          }),
          limit: z.coerce.number().int().min(1).max(500).default(100),
        }),
      },
      responses: {
        200: json(
          z.object({
            items: z.array(z.object({ seq: z.int(), entry: z.record(z.string(), z.unknown()) })),
            next: z.int(),
          }),
          "Entries",
        ),
        ...problemResponses,
      },
    }),
    async (c) => {
      await need(c, deps, "operator", "audit.list", "audit");
      const { after, limit } = c.req.valid("query");
      const stream = streamName("AUDIT", deps.region);
      const jsm = await jetstreamManager(deps.nc);
      const info = await jsm.streams.info(stream);
      const items: Array<{ seq: number; entry: Record<string, never> }> = [];
      for (
        let seq = Math.max(after + 1, info.state.first_seq);
        seq <= info.state.last_seq && items.length < limit;
        seq++
      ) {
        // A deleted entry is null (skipped); a read that fails propagates.
        const m = await jsm.streams.getMessage(stream, { seq });
        if (!m) continue;
        const e = parseAuditEntry(m.data);
        if (e.ok) items.push({ seq, entry: plain(e.value) });
      }
      return c.json({ items, next: items.at(-1)?.seq ?? after }, 200);
    },
  );
}
