/**
 * How customers get their one-time sign-in codes: a {@link CodeSender}. {@link LogCodeSender}
 * writes the code to the service's log (the demo and the tests read it there);
 * {@link SmtpCodeSender} emails it through an SMTP server configured by URL
 * (`smtp://user:password@host:587?from=codes@example.com`, `smtps://` for TLS from the start),
 * with nodemailer. An SMS gateway plugs in behind the same interface.
 *
 * @example
 * ```ts
 * import { jsonLogger } from "../../runtime/mod.ts";
 * import { LogCodeSender } from "./code_sender.ts";
 *
 * const sender = new LogCodeSender(jsonLogger("info"));
 * await sender.send("ada@example.com", { code: "123456", language: "en" });
 * ```
 *
 * @module
 */
// @ts-types="@types/nodemailer"
import nodemailer from "nodemailer";
import type { Logger } from "../../runtime/mod.ts";

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

const SUBJECT = { en: "Your Vendstream code", es: "Tu código de Vendstream" };
const BODY = {
  en: (code: string) => `Your sign-in code is ${code}. It is valid for 10 minutes.`,
  es: (code: string) => `Tu código para entrar es ${code}. Vale durante 10 minutos.`,
};

/** Emails codes through an SMTP server (phone numbers need an SMS sender: refused here). */
export class SmtpCodeSender implements CodeSender {
  readonly #transport: ReturnType<typeof nodemailer.createTransport>;
  readonly #from: string;

  /**
   * A sender for `url`: `smtp://[user:password@]host[:port][?from=ADDRESS]` (STARTTLS when the
   * server offers it) or `smtps://...` (TLS from the start). Throws TypeError naming what is
   * wrong with the URL.
   */
  constructor(url: string, options: { readonly timeoutMs?: number } = {}) {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new TypeError(`Invalid SMTP URL: not a URL`);
    }
    if (u.protocol !== "smtp:" && u.protocol !== "smtps:") {
      throw new TypeError(`Invalid SMTP URL: expected smtp:// or smtps://, got ${u.protocol}//`);
    }
    if (!u.hostname) throw new TypeError("Invalid SMTP URL: no host");
    this.#from = u.searchParams.get("from") ?? `no-reply@${u.hostname}`;
    const timeout = options.timeoutMs ?? 10_000;
    this.#transport = nodemailer.createTransport({
      host: u.hostname,
      port: Number(u.port || (u.protocol === "smtps:" ? 465 : 587)),
      secure: u.protocol === "smtps:",
      ...(u.username
        ? {
          auth: {
            user: decodeURIComponent(u.username),
            pass: decodeURIComponent(u.password),
          },
        }
        : {}),
      connectionTimeout: timeout,
      greetingTimeout: timeout,
      socketTimeout: timeout,
    });
  }

  /** Emails the code; rejects (naming the server's answer) when the server refuses it. */
  async send(to: string, message: CodeMessage): Promise<void> {
    if (!to.includes("@")) {
      throw new TypeError(`Cannot email a code to ${JSON.stringify(to)}: not an email address`);
    }
    await this.#transport.sendMail({
      from: this.#from,
      to,
      subject: SUBJECT[message.language],
      text: BODY[message.language](message.code),
    });
  }
}
