/**
 * How customers get their one-time sign-in codes: a {@link CodeSender}. {@link LogCodeSender}
 * writes the code to the service's log (the demo and the tests read it there); a real
 * deployment plugs in an email or SMS sender behind the same interface.
 *
 * @example
 * ```ts
 * import { jsonLogger } from "./logger.ts";
 * import { LogCodeSender } from "./code_sender.ts";
 *
 * const sender = new LogCodeSender(jsonLogger("info"));
 * await sender.send("ada@example.com", { code: "123456", language: "en" });
 * ```
 *
 * @module
 */
import type { Logger } from "./logger.ts";

/** A one-time code to deliver, in the customer's language. */
export interface CodeMessage {
  readonly code: string;
  readonly language: "en" | "es";
}

/** Delivers one-time codes to an email address or a phone number. */
export interface CodeSender {
  /** Sends `message` to `to`; rejects when it could not be handed over. */
  send(to: string, message: CodeMessage): Promise<void>;
}

/** Writes each code to the log, as `login code` with `to` and `code` (demo and tests). */
export class LogCodeSender implements CodeSender {
  readonly #logger: Logger;

  /** A sender writing to `logger`. */
  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /** Logs the code. */
  send(to: string, message: CodeMessage): Promise<void> {
    this.#logger.log("info", "login code", { to, code: message.code });
    return Promise.resolve();
  }
}
