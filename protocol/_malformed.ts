// Test helper, private to protocol/: derives malformed messages from a valid one, each with the
// field its parser must name.

/** A malformed message and the field its error must name. */
export interface Malformed {
  readonly what: string;
  readonly input: unknown;
  readonly field: string;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function join(path: string, key: string | number): string {
  if (typeof key === "number") return `${path}[${key}]`;
  return path === "" ? key : `${path}.${key}`;
}

function wrongTypeFor(value: Json): Json {
  if (typeof value === "string") return 12345;
  if (typeof value === "number") return "not a number";
  if (typeof value === "boolean") return "yes";
  if (value === null) return [];
  if (Array.isArray(value)) return { not: "an array" };
  return "not an object";
}

function withChange(
  root: Json,
  path: (string | number)[],
  change: (parent: Json, key: string | number) => void,
): Json {
  const copy = structuredClone(root);
  let node: Json = copy;
  for (const key of path.slice(0, -1)) node = (node as Record<string, Json>)[key as string] as Json;
  change(node, path[path.length - 1]!);
  return copy;
}

/**
 * Malformed variants of `valid`: every field deleted, every field of the wrong type, an unknown
 * field in every object, and an unknown value in each discriminator. `opaque` lists paths whose
 * contents are free-form (records), which are changed only as a whole.
 */
export function malformedFrom(
  valid: Json,
  options: {
    discriminators?: readonly string[];
    opaque?: readonly string[];
    optional?: readonly string[];
  } = {},
): Malformed[] {
  const discriminators = new Set(options.discriminators ?? []);
  const opaque = new Set(options.opaque ?? []);
  const optional = new Set(options.optional ?? []);
  const out: Malformed[] = [];
  const visit = (node: Json, path: (string | number)[], dotted: string) => {
    if (node === null || typeof node !== "object") return;
    if (Array.isArray(node)) {
      node.forEach((child, i) => visit(child, [...path, i], join(dotted, i)));
      return;
    }
    out.push({
      what: `unknown field in ${dotted || "the message"}`,
      input: withChange(
        valid,
        [...path, "zzUnknown"],
        (p, k) => ((p as Record<string, Json>)[k as string] = 1),
      ),
      field: join(dotted, "zzUnknown"),
    });
    for (const [key, child] of Object.entries(node)) {
      const p = [...path, key];
      const d = join(dotted, key);
      if (discriminators.has(key) && path.length === 0) {
        out.push({
          what: `unknown ${key}`,
          input: withChange(
            valid,
            p,
            (n, k) => ((n as Record<string, Json>)[k as string] = "no_such_kind"),
          ),
          field: d,
        });
        continue;
      }
      if (!optional.has(d)) {
        out.push({
          what: `missing ${d}`,
          input: withChange(valid, p, (n, k) => delete (n as Record<string, Json>)[k as string]),
          field: d,
        });
      }
      out.push({
        what: `wrong type of ${d}`,
        input: withChange(
          valid,
          p,
          (n, k) => ((n as Record<string, Json>)[k as string] = wrongTypeFor(child)),
        ),
        field: d,
      });
      if (!opaque.has(d)) visit(child, p, d);
    }
  };
  visit(valid, [], "");
  return out;
}

/** Inputs that are not a message at all; the error names the message as a whole (`""`). */
export const NOT_A_MESSAGE: readonly Malformed[] = [
  { what: "invalid JSON bytes", input: new TextEncoder().encode('{"v":1,'), field: "" },
  { what: "invalid UTF-8", input: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), field: "" },
  { what: "JSON array", input: "[1,2,3]", field: "" },
  { what: "JSON null", input: "null", field: "" },
  { what: "a number", input: 42, field: "" },
  { what: "empty text", input: "", field: "" },
];
