/**
 * Renders the message families as documentation: Markdown field tables for protocol/README.md
 * and JSON Schema documents for clients in other languages. `./vend docs` writes both; a test
 * checks that the committed files match.
 *
 * @module
 */
import { z } from "zod";
import type { MessageFamily } from "./message_family.ts";
import { heartbeat } from "./heartbeat.ts";
import { telemetry } from "./telemetry.ts";
import { shadow } from "./shadow.ts";
import { commandReply, commandRequest } from "./command.ts";
import { pipelineEvent } from "./pipeline_event.ts";
import { clipUploaded } from "./clip.ts";
import { componentRecipe, versionManifest } from "./component.ts";
import { modelManifest } from "./model_manifest.ts";
import { signedManifest } from "./signed_manifest.ts";
import { signedCommand } from "./signed_command.ts";
import { objectCommit } from "./object_commit.ts";
import { deploymentEvent } from "./deployment.ts";
import { paymentEvent } from "./payment_event.ts";
import { clockSync } from "./clock_sync.ts";
import { alert } from "./alert.ts";
import { auditEntry } from "./audit.ts";
import { frameHeader } from "./frame_codec.ts";

/** A family with the rules its schema checks beyond field types (they do not show in JSON Schema). */
export interface DocumentedFamily {
  /** The family. */
  readonly family: MessageFamily<unknown>;
  /** File name stem of its JSON Schema, e.g. `"heartbeat"`. */
  readonly file: string;
  /** Field that selects the variant, when the family has several. */
  readonly discriminator?: string;
  /** Cross-field rules. */
  readonly rules: readonly string[];
}

/** Every message family, in the order protocol/README.md documents them. */
export const DOCUMENTED_FAMILIES: readonly DocumentedFamily[] = [
  { family: heartbeat, file: "heartbeat", rules: [] },
  { family: telemetry, file: "telemetry", rules: [] },
  { family: shadow, file: "shadow", discriminator: "kind", rules: [] },
  { family: commandRequest, file: "command_request", discriminator: "command", rules: [] },
  { family: commandReply, file: "command_reply", discriminator: "status", rules: [] },
  {
    family: pipelineEvent,
    file: "pipeline_event",
    discriminator: "type",
    rules: ["`cart` lines have distinct `sku`s", "`closedAt` >= `openedAt`"],
  },
  { family: clipUploaded, file: "clip_uploaded", rules: ["`endTs` >= `startTs`"] },
  {
    family: deploymentEvent,
    file: "deployment_event",
    discriminator: "type",
    rules: ["`bytesDone` <= `bytesTotal`"],
  },
  { family: alert, file: "alert", rules: [] },
  {
    family: componentRecipe,
    file: "component_recipe",
    rules: [
      "an `agent` is applied by `restart`",
      "`dependencies` do not name the component itself",
      "a parameter's `default` has its `type`",
    ],
  },
  {
    family: versionManifest,
    file: "version_manifest",
    rules: ["each artifact's `chunks` add up to its `bytes`", "artifact names are distinct"],
  },
  {
    family: modelManifest,
    file: "model_manifest",
    rules: ["`labels[0]` is `empty`", "labels do not repeat"],
  },
  {
    family: signedManifest,
    file: "signed_manifest",
    rules: ["`signature` is Ed25519 over the UTF-8 bytes of `manifest`, by the key `keyId`"],
  },
  {
    family: signedCommand,
    file: "signed_command",
    rules: [
      "`signature` is Ed25519 over the UTF-8 bytes of `command` (a command request), by the key `keyId`",
    ],
  },
  {
    family: objectCommit,
    file: "object_commit",
    rules: ["`name` starts with `<deviceId>/`", "`nuid` starts with `<deviceId>.`"],
  },
  { family: auditEntry, file: "audit_entry", rules: [] },
  { family: clockSync, file: "clock_sync", discriminator: "kind", rules: ["reply: `t2` >= `t1`"] },
  {
    family: frameHeader,
    file: "frame_header",
    rules: [
      "the pixels after the header are exactly width*height*4 bytes (rgba) or the I420 planes (i420)",
    ],
  },
  {
    family: paymentEvent,
    file: "payment_event",
    discriminator: "type",
    rules: [
      "`captured`: `amount` <= `holdAmount`",
      "`receipt_issued`: each line's `total` = `qty` * `unitPrice`; `total` = sum of the lines' totals",
      "`cart` lines have distinct `sku`s",
    ],
  },
];

type JsonSchema = {
  type?: string | string[];
  const?: unknown;
  enum?: unknown[];
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  additionalProperties?: boolean | JsonSchema;
  propertyNames?: JsonSchema;
};

/** The JSON Schema (draft 2020-12) of a family. */
export function jsonSchemaOf(family: MessageFamily<unknown>): Record<string, unknown> {
  const schema = z.toJSONSchema(family.schema, { unrepresentable: "any" }) as Record<
    string,
    unknown
  >;
  return { ...schema, title: family.name };
}

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

function typeOf(s: JsonSchema): string {
  if (s.const !== undefined) return `\`${JSON.stringify(s.const)}\``;
  if (s.enum) return s.enum.map((e) => `\`${JSON.stringify(e)}\``).join(" \\| ");
  if (s.anyOf) return s.anyOf.map(typeOf).join(" or ");
  if (s.type === "array") return `array of ${s.items ? typeOf(s.items) : "any"}`;
  if (s.type === "object" && s.additionalProperties && typeof s.additionalProperties === "object") {
    return `map of ${typeOf(s.additionalProperties)}`;
  }
  if (s.type === undefined) return "any JSON";
  return Array.isArray(s.type) ? s.type.join(" or ") : s.type;
}

function constraints(s: JsonSchema): string {
  const out: string[] = [];
  const inner = s.anyOf?.find((a) => a.type !== "null") ?? s;
  if (inner.pattern) out.push(`pattern \`${inner.pattern}\``);
  if (inner.minimum !== undefined && inner.minimum !== -MAX_SAFE) out.push(`>= ${inner.minimum}`);
  if (inner.maximum !== undefined && inner.maximum !== MAX_SAFE) out.push(`<= ${inner.maximum}`);
  if (inner.minLength !== undefined) out.push(`length >= ${inner.minLength}`);
  if (inner.maxLength !== undefined) out.push(`length <= ${inner.maxLength}`);
  if (inner.minItems !== undefined) out.push(`items >= ${inner.minItems}`);
  if (inner.maxItems !== undefined) out.push(`items <= ${inner.maxItems}`);
  if (inner.propertyNames?.pattern) out.push(`keys \`${inner.propertyNames.pattern}\``);
  return out.join(", ");
}

function rows(s: JsonSchema, prefix: string, out: string[]): void {
  const required = new Set(s.required ?? []);
  for (const [name, prop] of Object.entries(s.properties ?? {})) {
    const path = prefix + name;
    const cell = (t: string) => t.replaceAll("|", "\\|").replaceAll("\\\\|", "\\|");
    out.push(
      `| \`${path}\` | ${cell(typeOf(prop))} | ${required.has(name) ? "yes" : "no"} | ${
        cell(constraints(prop))
      } | ${prop.description ?? ""} |`,
    );
    if (prop.type === "object" && prop.properties) rows(prop, `${path}.`, out);
    // An object or null: its fields, as an object's.
    const nullable = prop.anyOf?.find((a) => a.type === "object" && a.properties);
    if (nullable && prop.anyOf?.some((a) => a.type === "null")) rows(nullable, `${path}.`, out);
    if (prop.type === "array" && prop.items?.properties) rows(prop.items, `${path}[].`, out);
    const map = prop.additionalProperties;
    if (prop.type === "object" && map && typeof map === "object" && map.properties) {
      rows(map, `${path}.<key>.`, out);
    }
  }
}

function table(s: JsonSchema): string {
  const out = [
    "| field | type | required | constraints | meaning |",
    "| --- | --- | --- | --- | --- |",
  ];
  rows(s, "", out);
  return out.join("\n");
}

/** Markdown documentation of every family's fields. */
export function renderSchemaDocs(): string {
  const parts: string[] = [];
  for (const doc of DOCUMENTED_FAMILIES) {
    const schema = jsonSchemaOf(doc.family) as JsonSchema;
    parts.push(
      `### ${doc.family.name}\n\nJSON Schema: [schema/${doc.file}.json](schema/${doc.file}.json)\n`,
    );
    const variants = schema.oneOf ?? schema.anyOf;
    if (variants && doc.discriminator) {
      for (const variant of variants) {
        const value = variant.properties?.[doc.discriminator]?.const;
        parts.push(
          `#### ${doc.discriminator} = \`${JSON.stringify(value)}\`\n\n${table(variant)}\n`,
        );
      }
    } else {
      parts.push(table(schema) + "\n");
    }
    if (doc.rules.length > 0) {
      parts.push(
        "Rules beyond the field types:\n\n" + doc.rules.map((r) => `- ${r}`).join("\n") + "\n",
      );
    }
  }
  return parts.join("\n");
}
