/**
 * The error a protocol parser returns for a message that breaks its schema.
 *
 * @module
 */

/** A message that failed its family's schema: names the family and the offending field. */
export class ProtocolError extends Error {
  /** The message family that was parsed, e.g. `"heartbeat"`. */
  readonly family: string;
  /** Dotted path of the offending field (`"cart[1].qty"`), or `""` for the message as a whole. */
  readonly field: string;
  /** What is wrong with that field. */
  readonly reason: string;

  /** Creates the error for `family`, naming `field` and the `reason`. */
  constructor(family: string, field: string, reason: string, options?: ErrorOptions) {
    const where = field === "" ? "the message" : `field "${field}"`;
    super(`Invalid ${family} message: ${where}: ${reason}`, options);
    this.name = "ProtocolError";
    this.family = family;
    this.field = field;
    this.reason = reason;
  }
}

/** What a parser returns: the typed message, or the error naming what is wrong. It never throws. */
export type ParseResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: ProtocolError };
