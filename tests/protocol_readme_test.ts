/**
 * protocol/README.md is the wire contract a client in another language reads: it must name every
 * field such a client can receive. The fields are taken from the code, not from a list: every zod
 * schema protocol/mod.ts exports (and every message family's schema) is walked through its zod v4
 * definition (`_zod.def`: object shapes, array elements, record values, union options, wrappers),
 * and each field path must appear in backticks on the page, as the field tables write it
 * (`cpu.usage`, `cameras[].fps`, `state.cameras.<key>.fps`, `sessionIds`).
 *
 * @module
 */
import assert from "node:assert/strict";
import { z } from "zod";
import * as protocol from "../protocol/mod.ts";

type Schema = z.core.$ZodType;

function isSchema(value: unknown): value is Schema {
  return typeof value === "object" && value !== null && "_zod" in value;
}

// What each kind of zod definition holds, as far as fields are concerned.
type Def = {
  type: string;
  shape?: Record<string, Schema>;
  element?: Schema;
  valueType?: Schema;
  options?: readonly Schema[];
  items?: readonly Schema[];
  rest?: Schema | null;
  left?: Schema;
  right?: Schema;
  innerType?: Schema;
  in?: Schema;
  out?: Schema;
  getter?: () => Schema;
};

/** Zod types that hold no fields. */
const LEAVES = new Set([
  "string",
  "number",
  "int",
  "boolean",
  "bigint",
  "symbol",
  "null",
  "undefined",
  "void",
  "never",
  "any",
  "unknown",
  "date",
  "literal",
  "enum",
  "nan",
  "file",
  "template_literal",
  "custom",
  "transform",
  "function",
]);

/** Zod types that wrap one schema without changing its fields. */
const WRAPPERS = new Set([
  "optional",
  "nullable",
  "default",
  "prefault",
  "nonoptional",
  "readonly",
  "catch",
  "success",
  "promise",
]);

/**
 * Walks `schema`, the value at `path` ("" at the top), and calls `visit.field` with the path of
 * every field under it, as the README's tables spell them (`a`, `a.b`, `a[].b`, `a.<key>.b`), and
 * `visit.reached` with every schema met below the top one.
 */
function walkFields(
  schema: Schema,
  visit: { field: (path: string) => void; reached?: (s: Schema) => void },
  path = "",
  seen: ReadonlySet<Schema> = new Set(),
): void {
  if (seen.has(schema)) return; // a recursive schema: its fields are listed once
  const inner = new Set(seen).add(schema);
  const def = schema._zod.def as unknown as Def;
  const walk = (child: Schema | undefined | null, childPath: string) => {
    if (!child) return;
    visit.reached?.(child);
    walkFields(child, visit, childPath, inner);
  };
  switch (def.type) {
    case "object":
      for (const [name, child] of Object.entries(def.shape ?? {})) {
        const fieldPath = path === "" ? name : `${path}.${name}`;
        visit.field(fieldPath);
        walk(child, fieldPath);
      }
      return;
    case "array":
    case "set":
      return walk(def.element ?? def.valueType, `${path}[]`);
    case "tuple":
      for (const item of def.items ?? []) walk(item, `${path}[]`);
      return walk(def.rest, `${path}[]`);
    case "record":
    case "map":
      return walk(def.valueType, `${path}.<key>`);
    case "union":
      for (const option of def.options ?? []) walk(option, path);
      return;
    case "intersection":
      walk(def.left, path);
      return walk(def.right, path);
    case "pipe":
      walk(def.in, path);
      return walk(def.out, path);
    case "lazy":
      return walk(def.getter?.(), path);
    default:
      if (WRAPPERS.has(def.type)) return walk(def.innerType, path);
      if (LEAVES.has(def.type)) return;
      // A new kind of schema must be taught to the walk, not skipped.
      throw new TypeError(`Cannot list the fields of a zod "${def.type}" (at "${path}")`);
  }
}

/** Field paths of `schema`. */
function fieldPaths(schema: Schema): string[] {
  const paths = new Set<string>();
  walkFields(schema, { field: (path) => paths.add(path) });
  return [...paths];
}

/**
 * The message schemas protocol/mod.ts exports, by export name: each exported zod schema and each
 * family's schema, without those that are part of another (`CameraMetricsSchema` is documented as
 * telemetry's `cameras[]`, `DeviceIdentitySchema` as the provisioning reply's `identity`).
 */
function messageSchemas(): Map<string, Schema> {
  const exported = new Map<Schema, string>();
  for (const [name, value] of Object.entries(protocol)) {
    if (isSchema(value)) exported.set(value, exported.get(value) ?? name);
    else if (typeof value === "object" && value !== null && "schema" in value) {
      const schema = (value as { schema: unknown }).schema;
      if (isSchema(schema) && !exported.has(schema)) exported.set(schema, name);
    }
  }
  const contained = new Set<Schema>();
  for (const schema of exported.keys()) {
    walkFields(schema, { field: () => {}, reached: (s) => contained.add(s) });
  }
  const roots = new Map<string, Schema>();
  for (const [schema, name] of exported) if (!contained.has(schema)) roots.set(name, schema);
  return roots;
}

const README = new URL("../protocol/README.md", import.meta.url);

/** Every text the README puts in backticks. */
async function backticked(): Promise<Set<string>> {
  const text = await Deno.readTextFile(README);
  return new Set([...text.matchAll(/`([^`\n]+)`/g)].map((m) => m[1]!));
}

Deno.test("the field walk finds the fields of nested objects, array items, map values, union variants, pipes and lazy schemas", () => {
  // One of every shape the walk must see through, built from the protocol's own schemas.
  const schema = z.strictObject({
    top: z.int(),
    nested: protocol.CameraSettingsSchema.partial().nullable(),
    lines: protocol.ReceiptLineSchema.array().max(3).optional(),
    byKey: protocol.ShadowStateSchema.shape.cameras,
    either: protocol.ProvisioningReplySchema,
    piped: protocol.SessionStatusRequestSchema.transform((r) => r.sessionIds.length),
    lazy: z.lazy(() => protocol.ObjectCommitReplySchema),
  });
  const paths = fieldPaths(schema);
  for (
    const want of [
      "top",
      "nested",
      "nested.enabled",
      "lines[].unitPrice",
      "byKey.<key>.enabled",
      "either.ok",
      "either.identity.commandKeys[].publicKey",
      "either.error",
      "piped.sessionIds",
      "lazy.storedChunks",
    ]
  ) {
    assert.ok(paths.includes(want), `"${want}" not found in ${paths.join(", ")}`);
  }
});

Deno.test("protocol/README.md documents every field of every message", async () => {
  const documented = await backticked();
  const schemas = messageSchemas();
  const missing: string[] = [];
  let fields = 0;
  for (const [name, schema] of schemas) {
    for (const path of fieldPaths(schema)) {
      fields++;
      if (!documented.has(path)) missing.push(`${name}: \`${path}\``);
    }
  }
  // Guards against a walk that finds nothing (a zod upgrade changing its definitions).
  assert.ok(schemas.size >= 20, `only ${schemas.size} message schemas found in protocol/mod.ts`);
  assert.ok(fields >= 300, `only ${fields} fields found in the schemas of protocol/mod.ts`);
  assert.deepEqual(
    missing,
    [],
    `protocol/README.md does not document ${missing.length} field(s):\n  ${missing.join("\n  ")}`,
  );
});
