/**
 * Sends a command to a device over NATS request/reply and keeps its record in the commands
 * bucket: `sent` when it leaves, then `succeeded`, `failed`, `expired` or `no_reply`. Operators'
 * commands (the fleet API) and the payment service's unlocks go through this one path.
 *
 * @example
 * ```ts
 * import { connect } from "@nats-io/transport-node";
 * import { FleetState } from "./fleet_state.ts";
 * import { CommandSender } from "./command_sender.ts";
 *
 * const nc = await connect({ servers: "127.0.0.1:4222" });
 * const sender = new CommandSender(nc, await FleetState.open(nc));
 * const { record, reply } = await sender.send({
 *   deviceId: "m001-a",
 *   region: "local",
 *   command: "snapshot",
 *   args: {},
 *   issuer: "operator:ana",
 * });
 * console.log(record.status, (await reply).status); // "sent" "succeeded"
 * ```
 *
 * @module
 */
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import {
  type CommandName,
  type CommandRequest,
  CommandRequestSchema,
  newEnvelope,
  parseCommandReply,
  signCommand,
  type SigningKey,
  subjects,
} from "../../protocol/mod.ts";
import { loadCommandKey } from "../provisioning/mod.ts";
import type { CommandRecord } from "./fleet_model.ts";
import { putJson } from "./fleet_state.ts";
import type { Logger } from "../../runtime/mod.ts";

/** A command to send. */
export interface CommandSpec {
  /** The device. */
  readonly deviceId: string;
  /** The device's region (part of the subject). */
  readonly region: string;
  /** The command. */
  readonly command: CommandName;
  /** Its arguments, checked against the command's schema. */
  readonly args: Record<string, unknown>;
  /** Who sends it (`operator:ana`, `cloud/payments`). */
  readonly issuer: string;
  /** How long the command is valid and the reply awaited, ms. Default 30,000. */
  readonly ttlMs?: number;
}

/** A command that was sent: its first record and its final one once the device answers. */
export interface SentCommand {
  /** The record as stored when the command left (`sent`). */
  readonly record: CommandRecord;
  /** The final record (also stored); never rejects. */
  readonly reply: Promise<CommandRecord>;
}

/** A command whose arguments do not fit the command's schema. */
export class InvalidCommandError extends Error {
  /** Where in the request: `args.durationMs`. */
  readonly field: string;
  /** Builds the error. */
  constructor(field: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "InvalidCommandError";
    this.field = field;
  }
}

/** Sends commands and records their outcome. */
export class CommandSender {
  readonly #nc: NatsConnection;
  readonly #commands: KV;
  readonly #service: KV;
  readonly #logger: Logger | undefined;
  #key: Promise<SigningKey> | undefined;

  /**
   * A sender over a connection, the commands bucket and the service bucket (which holds the
   * key that signs every command).
   */
  constructor(
    nc: NatsConnection,
    buckets: { commands: KV; service: KV },
    options: { readonly logger?: Logger } = {},
  ) {
    this.#nc = nc;
    this.#commands = buckets.commands;
    this.#service = buckets.service;
    this.#logger = options.logger;
  }

  #signingKey(): Promise<SigningKey> {
    this.#key ??= loadCommandKey(this.#service).catch((e) => {
      this.#key = undefined;
      throw e;
    });
    return this.#key;
  }

  /**
   * Checks the command, stores it as `sent` and sends it. Resolves once it is stored and on its
   * way; `reply` follows the device's answer.
   *
   * @throws {InvalidCommandError} when the arguments do not fit the command.
   */
  async send(spec: CommandSpec): Promise<SentCommand> {
    const now = Date.now();
    const ttlMs = spec.ttlMs ?? 30_000;
    const checked = CommandRequestSchema.safeParse({
      ...newEnvelope(now),
      deviceId: spec.deviceId,
      issuer: spec.issuer,
      expiresAt: now + ttlMs,
      command: spec.command,
      args: spec.args,
    });
    if (!checked.success) {
      const issue = checked.error.issues[0]!;
      const field = issue.path.join(".");
      throw new InvalidCommandError(
        field,
        `Invalid command "${spec.command}": ${field}: ${issue.message}`,
      );
    }
    const request = checked.data as CommandRequest;
    const signed = await signCommand(request, await this.#signingKey());
    const record: CommandRecord = {
      id: request.id,
      deviceId: spec.deviceId,
      command: spec.command,
      args: spec.args,
      issuer: spec.issuer,
      createdAt: now,
      expiresAt: request.expiresAt,
      status: "sent",
      result: null,
      error: null,
      updatedAt: now,
    };
    await putJson(this.#commands, record.id, record, 0);
    const reply = this.#await(spec, signed, record, ttlMs);
    return { record, reply };
  }

  async #await(
    spec: CommandSpec,
    signed: Uint8Array,
    record: CommandRecord,
    ttlMs: number,
  ): Promise<CommandRecord> {
    let done: CommandRecord;
    try {
      const msg = await this.#nc.request(
        subjects.command({ region: spec.region, deviceId: spec.deviceId }, spec.command),
        signed,
        { timeout: ttlMs },
      );
      const reply = parseCommandReply(msg.data);
      if (!reply.ok) {
        done = {
          ...record,
          status: "failed",
          error: { code: "invalid_reply", message: reply.error.message.slice(0, 200) },
          updatedAt: Date.now(),
        };
      } else if (reply.value.status === "ok") {
        done = {
          ...record,
          status: "succeeded",
          result: reply.value.result,
          updatedAt: Date.now(),
        };
      } else {
        done = {
          ...record,
          status: reply.value.error.code === "expired" ? "expired" : "failed",
          error: reply.value.error,
          updatedAt: Date.now(),
        };
      }
    } catch (e) {
      done = {
        ...record,
        status: "no_reply",
        error: {
          code: "no_reply",
          message: `No reply from ${spec.deviceId}: ${(e as Error).message}`.slice(0, 200),
        },
        updatedAt: Date.now(),
      };
    }
    // The caller gets the outcome all the same; the stored record stays `sent`: said.
    await putJson(this.#commands, record.id, done).catch((e) =>
      this.#logger?.log("warn", "a command's outcome could not be stored", {
        commandId: record.id,
        device: spec.deviceId,
        status: done.status,
        error: String(e),
      })
    );
    return done;
  }
}
