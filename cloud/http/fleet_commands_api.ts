/**
 * The command routes: sending a command to a device (signed and stored by the command sender)
 * and reading a command's status and result.
 *
 * @module
 */
import {
  type CommandRecord,
  CommandRecordSchema,
  CommandSender,
  InvalidCommandError,
} from "../fleet/mod.ts";
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { COMMAND_NAMES } from "../../protocol/mod.ts";
import { audit } from "./audit_log.ts";
import { IdParam, view } from "./_device_view.ts";
import type { FleetDeps, FleetEnv } from "./fleet_env.ts";
import { need } from "./need_role.ts";
import { json, problemResponses, security } from "./openapi_common.ts";
import { plain } from "./plain.ts";
import { ApiError } from "./problem.ts";

const CommandBody = z.strictObject({
  command: z.enum(COMMAND_NAMES),
  args: z.record(z.string(), z.unknown()).default({}),
  ttlMs: z.int().min(1000).max(600_000).default(30_000),
});

const sendCommand = createRoute({
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
});

const getCommand = createRoute({
  method: "get",
  path: "/commands/{id}",
  tags: ["commands"],
  summary: "A command's status and result",
  security,
  request: { params: z.object({ id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{7,63}$/) }) },
  responses: { 200: json(CommandRecordSchema, "The command"), ...problemResponses },
});

/** The command routes (`/devices/{id}/commands`, `/commands/{id}`), sending with a new `CommandSender`. */
export function commandsApi(deps: FleetDeps): OpenAPIHono<FleetEnv> {
  const { state } = deps;
  const commands = new CommandSender(deps.nc, state, deps.logger ? { logger: deps.logger } : {});
  const app = new OpenAPIHono<FleetEnv>();

  app.openapi(sendCommand, async (c) => {
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
  });

  app.openapi(getCommand, async (c) => {
    await need(c, deps, "viewer", "command.get", "commands");
    const { id } = c.req.valid("param");
    const e = await state.commands.get(id);
    if (!e?.value.length) {
      throw new ApiError(404, "Not Found", `No command "${id}"`, { field: "path.id" });
    }
    return c.json(CommandRecordSchema.parse(JSON.parse(new TextDecoder().decode(e.value))), 200);
  });

  return app;
}
