/**
 * A message family: its name, its zod schema, and the parse and encode functions built from them.
 *
 * @module
 */
import type { z } from "zod";
import { type ParseResult, ProtocolError } from "./protocol_error.ts";

const decoder = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

/** A family of messages on the wire, with its parser and encoder. */
export interface MessageFamily<T> {
  /** Family name as used in errors and in protocol/README.md, e.g. `"heartbeat"`. */
  readonly name: string;
  /** The zod schema; unknown fields are refused. */
  readonly schema: z.ZodType<T>;
  /**
   * Parses a message given as bytes (UTF-8 JSON, as it arrives from NATS), JSON text,
   * or an already decoded value. Never throws.
   */
  parse(input: unknown): ParseResult<T>;
  /** Validates `value` and encodes it as UTF-8 JSON; throws `TypeError` naming the bad field. */
  encode(value: T): Uint8Array;
}

function fieldPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else out += out === "" ? String(key) : `.${String(key)}`;
  }
  return out;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

function toError(name: string, error: z.ZodError): ProtocolError {
  const issue = error.issues[0];
  if (issue === undefined) return new ProtocolError(name, "", "rejected by schema");
  if (issue.code === "unrecognized_keys") {
    const key = issue.keys[0] ?? "";
    return new ProtocolError(name, fieldPath([...issue.path, key]), "unknown field", {
      cause: error,
    });
  }
  if (issue.code === "invalid_key") {
    return new ProtocolError(
      name,
      fieldPath(issue.path),
      "invalid key: " + (issue.issues[0]?.message ?? issue.message),
      {
        cause: error,
      },
    );
  }
  return new ProtocolError(name, fieldPath(issue.path), issue.message, { cause: error });
}

/** Builds a family from its name and schema. */
export function defineFamily<T>(name: string, schema: z.ZodType<T>): MessageFamily<T> {
  const parseValue = (value: unknown): ParseResult<T> => {
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      return {
        ok: false,
        error: new ProtocolError(name, "", `expected a JSON object, got ${describe(value)}`),
      };
    }
    const result = schema.safeParse(value);
    return result.success
      ? { ok: true, value: result.data }
      : { ok: false, error: toError(name, result.error) };
  };
  return {
    name,
    schema,
    parse(input: unknown): ParseResult<T> {
      if (input instanceof Uint8Array || typeof input === "string") {
        let text: string;
        try {
          text = typeof input === "string" ? input : decoder.decode(input);
        } catch (cause) {
          return {
            ok: false,
            error: new ProtocolError(name, "", "payload is not valid UTF-8", { cause }),
          };
        }
        let value: unknown;
        try {
          value = JSON.parse(text);
        } catch (cause) {
          const reason = `payload is not valid JSON (${(cause as Error).message})`;
          return { ok: false, error: new ProtocolError(name, "", reason, { cause }) };
        }
        return parseValue(value);
      }
      return parseValue(input);
    },
    encode(value: T): Uint8Array {
      const result = parseValue(value);
      if (!result.ok) throw new TypeError(result.error.message, { cause: result.error });
      return encoder.encode(JSON.stringify(result.value));
    },
  };
}
