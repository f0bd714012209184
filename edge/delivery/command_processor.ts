/**
 * Remote commands on the device: check the cloud's signature (pinned keys), parse, check the
 * target and expiry, run each command id once
 * (a replayed id gets the first result, even after a restart: results are journaled in the
 * device database), and refuse unknown commands with a clear reply. Never throws: every
 * request gets a reply.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import {
  type CommandErrorCode,
  type CommandName,
  type CommandReply,
  commandReply,
  type CommandRequest,
  newEnvelope,
  parseCommandRequest,
  type TrustedKey,
  unverifiedCommandId,
  verifySignedCommand,
} from "../../protocol/mod.ts";

/** JSON a command handler returns. */
export type CommandResult = Record<
  string,
  null | boolean | number | string | unknown[] | Record<string, unknown>
>;

/** Where a command came from. */
export interface CommandContext {
  /** The subject it arrived on, `vs.<region>.dev.<deviceId>.cmd.<command>`: its region is the sender's. */
  readonly subject?: string;
}

/** Runs one kind of command; throws {@link CommandFailure} (or any error) to fail it. */
export type CommandHandler = (
  request: CommandRequest,
  context: CommandContext,
) => Promise<CommandResult>;

/** A command that could not be carried out, with the reply's error code. */
export class CommandFailure extends Error {
  /** Reply error code. */
  readonly code: "busy" | "failed" | "invalid";
  /** Creates the failure. */
  constructor(code: "busy" | "failed" | "invalid", message: string) {
    super(message);
    this.name = "CommandFailure";
    this.code = code;
  }
}

/** Options of {@link CommandProcessor}. */
export interface CommandProcessorOptions {
  /** Device clock, Unix ms. Default `Date.now`. */
  readonly now?: () => number;
  /**
   * How long replies stay in the journal, ms. Default 24 h. A command may not live longer
   * (its `expiresAt` at most this far ahead), so a replayed id is always recognized.
   */
  readonly keepMs?: number;
  /**
   * The cloud's command keys this device pinned: a command must be signed by one of them.
   * Without keys the device takes unsigned commands (only on an open development server).
   */
  readonly trustedKeys?: readonly TrustedKey[];
  /** Told of each refused or replayed command (the device's security audit). */
  readonly onRefused?: (refusal: CommandRefusal) => void;
}

/** A command the device refused or recognized as replayed. */
export interface CommandRefusal {
  /** The command's id, when it could be read. */
  readonly commandId: string;
  /** The command's name, when it could be read. */
  readonly command: string;
  /** `replayed`: its id was handled before (it did not act again). */
  readonly code: CommandErrorCode | "replayed";
  /** Why. */
  readonly message: string;
}

/** Handles command requests for one device. */
export class CommandProcessor {
  readonly #db: DatabaseSync;
  readonly #deviceId: string;
  readonly #handlers: Partial<Record<CommandName, CommandHandler>>;
  readonly #now: () => number;
  readonly #keepMs: number;
  readonly #inFlight = new Map<string, Promise<Uint8Array>>();
  readonly #trusted: readonly TrustedKey[] | undefined;
  readonly #onRefused: (refusal: CommandRefusal) => void;

  /** Creates the processor; its journal lives in `db`. */
  constructor(
    db: DatabaseSync,
    deviceId: string,
    handlers: Partial<Record<CommandName, CommandHandler>>,
    options: CommandProcessorOptions = {},
  ) {
    this.#db = db;
    this.#deviceId = deviceId;
    this.#handlers = handlers;
    this.#now = options.now ?? (() => Date.now());
    this.#keepMs = options.keepMs ?? 24 * 3_600_000;
    this.#trusted = options.trustedKeys;
    this.#onRefused = options.onRefused ?? (() => {});
    db.exec(
      `CREATE TABLE IF NOT EXISTS command_journal (id TEXT PRIMARY KEY, reply BLOB NOT NULL, created INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS command_started (id TEXT PRIMARY KEY, created INTEGER NOT NULL);`,
    );
  }

  #reply(
    commandId: string,
    body: { status: "ok"; result: CommandResult } | {
      status: "error";
      error: { code: CommandErrorCode; message: string };
    },
  ): Uint8Array {
    return commandReply.encode(
      { ...newEnvelope(this.#now()), deviceId: this.#deviceId, commandId, ...body } as CommandReply,
    );
  }

  /** Handles one request (bytes as received) and returns the reply's bytes. */
  async handle(input: Uint8Array, context: CommandContext = {}): Promise<Uint8Array> {
    let data = input;
    if (this.#trusted) {
      try {
        data = await verifySignedCommand(input, this.#trusted);
      } catch (e) {
        const { id, command } = unverifiedCommandId(input);
        const commandId = id && /^[A-Za-z0-9][A-Za-z0-9_-]{7,63}$/.test(id) ? id : "00000000";
        const message = (e as Error).message.slice(0, 500);
        this.#onRefused({ commandId, command: command ?? "", code: "unauthorized", message });
        return this.#reply(commandId, {
          status: "error",
          error: { code: "unauthorized", message },
        });
      }
    }
    const parsed = parseCommandRequest(data);
    if (!parsed.ok) {
      let commandId = "00000000";
      let commandName = "";
      try {
        const raw = JSON.parse(new TextDecoder().decode(data));
        if (typeof raw?.id === "string" && /^[A-Za-z0-9][A-Za-z0-9_-]{7,63}$/.test(raw.id)) {
          commandId = raw.id;
        }
        if (typeof raw?.command === "string") commandName = raw.command.slice(0, 64);
      } catch (e) {
        // Not JSON: the placeholder id stays.
        if (!(e instanceof SyntaxError)) throw e;
      }
      const unknown = parsed.error.field === "command";
      return this.#reply(commandId, {
        status: "error",
        error: unknown
          ? {
            code: "unknown_command",
            message: `Unknown command ${JSON.stringify(commandName)} for device ${this.#deviceId}`,
          }
          : { code: "invalid", message: parsed.error.message.slice(0, 500) },
      });
    }
    const request = parsed.value;
    const pending = this.#inFlight.get(request.id);
    if (pending) return pending;
    const run = this.#run(request, context).finally(() => this.#inFlight.delete(request.id));
    this.#inFlight.set(request.id, run);
    return run;
  }

  async #run(request: CommandRequest, context: CommandContext): Promise<Uint8Array> {
    const journaled = this.#db.prepare("SELECT reply FROM command_journal WHERE id = ?").get(
      request.id,
    ) as
      | { reply: Uint8Array }
      | undefined;
    if (journaled) {
      // A replay (or the cloud's retry after a lost reply): the first answer, no second effect.
      this.#onRefused({
        commandId: request.id,
        command: request.command,
        code: "replayed",
        message: `Command ${request.id} was handled before; it does not act again`,
      });
      return new Uint8Array(journaled.reply);
    }
    let reply: Uint8Array;
    if (request.deviceId !== this.#deviceId) {
      return this.#reply(request.id, {
        status: "error",
        error: {
          code: "invalid",
          message: `Command ${request.id} is for device ${request.deviceId}, not ${this.#deviceId}`,
        },
      });
    } else if (request.expiresAt - this.#now() > this.#keepMs) {
      reply = this.#reply(request.id, {
        status: "error",
        error: {
          code: "invalid",
          message: `Command ${request.id} expires ${
            Math.round((request.expiresAt - this.#now()) / 1000)
          } s from now, more than the ${this.#keepMs / 1000} s a device remembers commands`,
        },
      });
    } else if (this.#now() > request.expiresAt) {
      reply = this.#reply(request.id, {
        status: "error",
        error: {
          code: "expired",
          message: `Command ${request.id} expired at ${new Date(request.expiresAt).toISOString()}`,
        },
      });
    } else {
      const handler = this.#handlers[request.command];
      if (!handler) {
        reply = this.#reply(request.id, {
          status: "error",
          error: {
            code: "unknown_command",
            message: `Device ${this.#deviceId} does not support "${request.command}"`,
          },
        });
      } else {
        // Written before the handler acts: a crash in between must not act twice on a replay.
        const started = this.#db.prepare(
          "INSERT OR IGNORE INTO command_started (id, created) VALUES (?, ?)",
        )
          .run(request.id, this.#now());
        try {
          if (Number(started.changes) === 0) {
            throw new CommandFailure(
              "failed",
              `Command ${request.id} was interrupted by a restart of the device; it is not run again`,
            );
          }
          reply = this.#reply(request.id, {
            status: "ok",
            result: await handler(request, context),
          });
        } catch (e) {
          const code = e instanceof CommandFailure ? e.code : "failed";
          reply = this.#reply(request.id, {
            status: "error",
            error: { code, message: String((e as Error).message).slice(0, 500) || "failed" },
          });
        }
      }
    }
    this.#db.prepare("INSERT OR IGNORE INTO command_journal (id, reply, created) VALUES (?, ?, ?)")
      .run(request.id, reply, this.#now());
    this.#db.prepare("DELETE FROM command_journal WHERE created < ?").run(
      this.#now() - this.#keepMs,
    );
    this.#db.prepare("DELETE FROM command_started WHERE created < ?").run(
      this.#now() - this.#keepMs,
    );
    return reply;
  }
}
