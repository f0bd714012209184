/**
 * Remote commands: a request from the cloud to one device over NATS request/reply, and the
 * device's reply. Each request has an id (a replayed id runs once and gets the first result),
 * an issuer and an expiry (an expired request is refused).
 *
 * @module
 */
import { z } from "zod";
import * as f from "./_fields.ts";
import { defineFamily } from "./message_family.ts";

const requestBase = {
  ...f.deviceEnvelope,
  /** Who sent it: an operator id, or a service such as `"cloud/payments"`. */
  issuer: f.shortText.describe("Who sent it: an operator id or a service"),
  /** Unix ms after which the device refuses the command. */
  expiresAt: f.timestamp.describe("Unix ms after which the device refuses the command"),
};

/** Names of the commands a device knows. */
export const COMMAND_NAMES = [
  "unlock",
  "lock",
  "snapshot",
  "set_config",
  "restart_pipeline",
  "collect_logs",
  "diagnostics",
] as const;

/** A command name. */
export type CommandName = typeof COMMAND_NAMES[number];

/** Schema of a command request; `command` selects the shape of `args`. */
export const CommandRequestSchema = z.discriminatedUnion("command", [
  z.strictObject({
    ...requestBase,
    command: z.literal("unlock"),
    args: z.strictObject({
      /** The door session this unlock opens (a payment session id), when there is one. */
      sessionId: f.id.nullable(),
      /** How long the lock stays released waiting for the door to open. */
      durationMs: z.int().min(1000).max(120_000),
    }),
  }),
  z.strictObject({ ...requestBase, command: z.literal("lock"), args: z.strictObject({}) }),
  z.strictObject({
    ...requestBase,
    command: z.literal("snapshot"),
    args: z.strictObject({ cameraId: f.cameraId }),
  }),
  z.strictObject({
    ...requestBase,
    command: z.literal("set_config"),
    args: z.strictObject({
      config: z.record(
        z.string().regex(/^[a-z][a-zA-Z0-9_.]{0,63}$/),
        z.union([z.string().max(1000), z.number(), z.boolean()]),
      ),
    }),
  }),
  z.strictObject({
    ...requestBase,
    command: z.literal("restart_pipeline"),
    args: z.strictObject({}),
  }),
  z.strictObject({
    ...requestBase,
    command: z.literal("collect_logs"),
    args: z.strictObject({ lines: z.int().min(1).max(10_000), since: f.timestamp.nullable() }),
  }),
  z.strictObject({ ...requestBase, command: z.literal("diagnostics"), args: z.strictObject({}) }),
]);

/** A command request. */
export type CommandRequest = z.infer<typeof CommandRequestSchema>;

/** The command request family. */
export const commandRequest = defineFamily<CommandRequest>("command request", CommandRequestSchema);

/** Parses a command request; never throws. */
export const parseCommandRequest = commandRequest.parse;

/** Why a device did not carry a command out. */
export const COMMAND_ERROR_CODES = [
  "expired",
  "unknown_command",
  "invalid",
  "unauthorized",
  "busy",
  "failed",
] as const;

/** A reason code of an error reply. */
export type CommandErrorCode = typeof COMMAND_ERROR_CODES[number];

const replyBase = {
  ...f.deviceEnvelope,
  commandId: f.id.describe("The `id` of the request this answers"),
};

/** Schema of a command reply: `ok` with a result, or `error` with a code and message. */
export const CommandReplySchema = z.discriminatedUnion("status", [
  z.strictObject({
    ...replyBase,
    status: z.literal("ok"),
    result: z.record(z.string().max(64), z.json()),
  }),
  z.strictObject({
    ...replyBase,
    status: z.literal("error"),
    error: z.strictObject({ code: z.enum(COMMAND_ERROR_CODES), message: f.shortText }),
  }),
]);

/** A command reply. */
export type CommandReply = z.infer<typeof CommandReplySchema>;

/** The command reply family. */
export const commandReply = defineFamily<CommandReply>("command reply", CommandReplySchema);

/** Parses a command reply; never throws. */
export const parseCommandReply = commandReply.parse;
