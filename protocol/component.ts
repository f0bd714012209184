/**
 * Components: the named, versioned units a device runs (the agent bundle, a model, a config
 * set). A version is a recipe (metadata, parameters with defaults, dependencies on other
 * components by version range, lifecycle, platform constraints) and artifacts, stored as
 * content-defined chunks in the object store. The version manifest that lists them is what the
 * cloud signs (see `signed_manifest.ts`).
 *
 * @example
 * ```ts
 * import { componentRecipe, dependencyProblems } from "./component.ts";
 *
 * const r = componentRecipe.parse(JSON.stringify({
 *   component: "detector", version: "1.2.0", kind: "model",
 *   platform: { arch: ["x86_64", "aarch64"] }, dependencies: { agent: "^0.1.0" },
 * }));
 * if (r.ok) console.log(dependencyProblems([r.value], { agent: "0.1.4" }));
 * ```
 *
 * @module
 */
// @ts-types="@types/semver"
import semver from "semver";
import { z } from "zod";
import * as f from "./_fields.ts";
import { defineFamily } from "./message_family.ts";

/** What kind of unit a component is; it decides how a version is applied. */
export const COMPONENT_KINDS = ["agent", "model", "config"] as const;

/** Device architectures a version can be built for. */
export const ARCHES = ["x86_64", "aarch64"] as const;

/** A component name: 1-64 of a-z, 0-9, '.', '_' and '-'. */
export const componentName = z.string().regex(
  /^[a-z0-9][a-z0-9_-]{0,63}$/,
  "must be 1-64 of a-z, 0-9, '_' and '-'",
);

/** A semantic version without build metadata (it is also a KV key part). */
export const semanticVersion = z.string().max(64).refine(
  (v) => semver.valid(v) === v && !v.includes("+"),
  "must be a semantic version such as 1.4.2",
);

/** A semver range such as `^1.2.0` or `>=1.0.0 <2.0.0`. */
export const versionRange = z.string().min(1).max(128).refine(
  (r) => semver.validRange(r) !== null,
  "must be a version range such as ^1.2.0",
);

const artifactName = z.string().regex(
  /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/,
  "must be a file name of 1-128 of A-Z, a-z, 0-9, '.', '_' and '-'",
);

const parameter = z.strictObject({
  type: z.enum(["string", "number", "boolean"]),
  default: z.union([z.string().max(1000), z.number(), z.boolean()]),
  description: f.shortText.optional(),
}).refine((p) => (typeof p.default as string) === p.type, {
  path: ["default"],
  message: "must be of the parameter's type",
});

/** Schema of a component version's recipe. */
export const ComponentRecipeSchema = z.strictObject({
  component: componentName,
  version: semanticVersion,
  kind: z.enum(COMPONENT_KINDS),
  description: f.shortText.optional(),
  platform: z.strictObject({
    os: z.array(z.literal("linux")).min(1).default(["linux"]),
    arch: z.array(z.enum(ARCHES)).min(1),
    /** The oldest agent that can run this version. */
    minAgentVersion: semanticVersion.optional(),
  }),
  parameters: z.record(z.string().regex(/^[a-zA-Z][a-zA-Z0-9_]{0,63}$/), parameter).default({}),
  /** Other components this one needs, by version range. */
  dependencies: z.record(componentName, versionRange).default({}),
  lifecycle: z.strictObject({
    /** How the new version takes over: a restart of the agent, or in place (models, config). */
    apply: z.enum(["restart", "hot"]),
    /** Time the new version has to report healthy before it is rolled back. */
    healthWindowMs: z.int().min(1000).max(600_000).default(60_000),
    /** Starts of a new version that may fail before it is abandoned (crash loop). */
    maxBoots: z.int().min(1).max(10).default(3),
  }).default({ apply: "hot", healthWindowMs: 60_000, maxBoots: 3 }),
}).superRefine((r, ctx) => {
  if (r.kind === "agent" && r.lifecycle.apply !== "restart") {
    ctx.addIssue({
      code: "custom",
      path: ["lifecycle", "apply"],
      message: 'must be "restart" for an agent',
    });
  }
  if (r.component in r.dependencies) {
    ctx.addIssue({ code: "custom", path: ["dependencies"], message: "must not name itself" });
  }
});

/** A component version's recipe. */
export type ComponentRecipe = z.infer<typeof ComponentRecipeSchema>;

/** The recipe family. */
export const componentRecipe = defineFamily<ComponentRecipe>(
  "component recipe",
  ComponentRecipeSchema,
);

/** Schema of an artifact as a list of content-defined chunks. */
export const ArtifactManifestSchema = z.strictObject({
  name: artifactName,
  bytes: f.bytes,
  sha256: f.sha256,
  /** The chunks in order; each is an object named by its SHA-256 in the artifact store. */
  chunks: z.array(z.strictObject({ sha256: f.sha256, bytes: z.int().min(1).max(4 << 20) }))
    .max(200_000),
}).refine((a) => a.chunks.reduce((n, c) => n + c.bytes, 0) === a.bytes, {
  path: ["chunks"],
  message: "must add up to bytes",
});

/** An artifact of a version. */
export type ArtifactManifest = z.infer<typeof ArtifactManifestSchema>;

/** Schema of what the cloud signs for a version: its recipe and its artifacts. */
export const VersionManifestSchema = z.strictObject({
  v: z.literal(f.SCHEMA_VERSION),
  recipe: ComponentRecipeSchema,
  artifacts: z.array(ArtifactManifestSchema).min(1).max(64),
  createdAt: f.timestamp,
}).refine(
  (m) => new Set(m.artifacts.map((a) => a.name)).size === m.artifacts.length,
  { path: ["artifacts"], message: "must have distinct names" },
);

/** A version manifest. */
export type VersionManifest = z.infer<typeof VersionManifestSchema>;

/** The version manifest family. */
export const versionManifest = defineFamily<VersionManifest>(
  "version manifest",
  VersionManifestSchema,
);

/** Key of a version in the `components` bucket: `<component>.<version>`. */
export function componentKey(component: string, version: string): string {
  if (!componentName.safeParse(component).success) {
    throw new TypeError(`Cannot name component ${JSON.stringify(component)}`);
  }
  if (!semanticVersion.safeParse(version).success) {
    throw new TypeError(`Cannot name version ${JSON.stringify(version)} of "${component}"`);
  }
  return `${component}.${version}`;
}

/** One thing wrong with a set of versions taken together. */
export interface DependencyProblem {
  /** The component whose dependency is not met. */
  readonly component: string;
  /** What is wrong. */
  readonly reason: string;
}

/**
 * What stops `targets` from running together with what a device has installed (`installed`,
 * component name to version): a dependency missing, or outside its range. Targets replace the
 * installed version of their component. Empty when the combination works.
 */
export function dependencyProblems(
  targets: readonly Pick<ComponentRecipe, "component" | "version" | "dependencies">[],
  installed: Readonly<Record<string, string>>,
): DependencyProblem[] {
  const after: Record<string, string> = { ...installed };
  for (const t of targets) after[t.component] = t.version;
  const problems: DependencyProblem[] = [];
  for (const t of targets) {
    for (const [dep, range] of Object.entries(t.dependencies)) {
      const have = after[dep];
      if (have === undefined) {
        problems.push({ component: t.component, reason: `needs ${dep} ${range}, none installed` });
      } else if (!semver.satisfies(have, range)) {
        problems.push({
          component: t.component,
          reason: `needs ${dep} ${range}, ${dep} would be ${have}`,
        });
      }
    }
  }
  return problems;
}

/**
 * A dependency cycle among component versions (each version's dependencies resolved to the
 * highest version in `catalog` that satisfies the range), as the list of components around it;
 * `undefined` when there is none.
 */
export function dependencyCycle(
  start: Pick<ComponentRecipe, "component" | "dependencies">,
  catalog: (
    component: string,
    range: string,
  ) => Pick<ComponentRecipe, "component" | "dependencies"> | undefined,
): string[] | undefined {
  const path: string[] = [];
  const visit = (r: Pick<ComponentRecipe, "component" | "dependencies">): string[] | undefined => {
    const at = path.indexOf(r.component);
    if (at >= 0) return [...path.slice(at), r.component];
    path.push(r.component);
    for (const [dep, range] of Object.entries(r.dependencies)) {
      const next = dep === start.component ? start : catalog(dep, range);
      const cycle = next && visit(next);
      if (cycle) return cycle;
    }
    path.pop();
    return undefined;
  };
  return visit(start);
}

/** The highest of `versions` within `range`, or undefined. */
export function bestVersion(versions: readonly string[], range: string): string | undefined {
  return semver.maxSatisfying([...versions], range) ?? undefined;
}

/** Whether `version` is within `range`. */
export function versionSatisfies(version: string, range: string): boolean {
  return semver.satisfies(version, range);
}
