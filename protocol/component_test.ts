import assert from "node:assert/strict";
import { allMalformed, assertRefused, assertValid } from "./_family_test_util.ts";
import {
  componentKey,
  componentRecipe,
  dependencyCycle,
  dependencyProblems,
  versionManifest,
} from "./component.ts";
import fixtures from "./testdata/component_recipe.json" with { type: "json" };

Deno.test("componentRecipe accepts the fixtures and round-trips them", () => {
  assertValid(componentRecipe, fixtures);
});

Deno.test("componentRecipe names the offending field of every malformed recipe", () => {
  const base = fixtures[1]!;
  const n = assertRefused(componentRecipe, [
    ...allMalformed(fixtures, {
      optional: [
        "description",
        "parameters",
        "dependencies",
        "lifecycle",
        "platform.os",
        "platform.minAgentVersion",
        "lifecycle.healthWindowMs",
        "lifecycle.maxBoots",
        "parameters.heartbeatIntervalMs.description",
      ],
      opaque: ["parameters", "dependencies"],
    }),
    { what: "not semver", input: { ...base, version: "1.3" }, field: "version" },
    { what: "build metadata", input: { ...base, version: "1.3.0+abc" }, field: "version" },
    {
      what: "bad range",
      input: { ...base, dependencies: { agent: "around 1" } },
      field: "dependencies.agent",
    },
    {
      what: "depends on itself",
      input: { ...base, dependencies: { detector: "^1.0.0" } },
      field: "dependencies",
    },
    {
      what: "default of the wrong type",
      input: { ...base, parameters: { threshold: { type: "number", default: "high" } } },
      field: "parameters.threshold.default",
    },
    {
      what: "an agent applied hot",
      input: { ...fixtures[0], lifecycle: { apply: "hot" } },
      field: "lifecycle.apply",
    },
    {
      what: "unknown arch",
      input: { ...base, platform: { arch: ["mips"] } },
      field: "platform.arch[0]",
    },
  ]);
  assert.ok(n >= 20, `only ${n} malformed recipes`);
});

Deno.test("versionManifest refuses chunks that do not add up and repeated artifact names", () => {
  const recipe = fixtures[1];
  const artifact = {
    name: "model.onnx",
    bytes: 10,
    sha256: "a".repeat(64),
    chunks: [{ sha256: "b".repeat(64), bytes: 10 }],
  };
  const ok = versionManifest.parse(
    JSON.stringify({ v: 1, recipe, artifacts: [artifact], createdAt: 1 }),
  );
  assert.ok(ok.ok, ok.ok ? "" : ok.error.message);
  const bad = versionManifest.parse(
    JSON.stringify({ v: 1, recipe, artifacts: [{ ...artifact, bytes: 11 }], createdAt: 1 }),
  );
  assert.ok(!bad.ok && bad.error.field === "artifacts[0].chunks", bad.ok ? "" : bad.error.field);
  const twice = versionManifest.parse(
    JSON.stringify({ v: 1, recipe, artifacts: [artifact, artifact], createdAt: 1 }),
  );
  assert.ok(!twice.ok && twice.error.field === "artifacts");
});

Deno.test("dependencyProblems refuses a combination whose ranges conflict", () => {
  const detector = { component: "detector", version: "1.3.0", dependencies: { agent: "^0.2.0" } };
  assert.deepEqual(dependencyProblems([detector], { agent: "0.2.5" }), []);
  assert.deepEqual(dependencyProblems([detector], { agent: "0.1.9" }), [
    { component: "detector", reason: "needs agent ^0.2.0, agent would be 0.1.9" },
  ]);
  assert.deepEqual(dependencyProblems([detector], {}), [
    { component: "detector", reason: "needs agent ^0.2.0, none installed" },
  ]);
  // Updating the agent in the same deployment satisfies it.
  const agent = { component: "agent", version: "0.2.1", dependencies: {} };
  assert.deepEqual(dependencyProblems([detector, agent], { agent: "0.1.0" }), []);
});

Deno.test("dependencyCycle finds a cycle through the catalogue and none where there is none", () => {
  const catalog = new Map([
    ["labels", { component: "labels", dependencies: { detector: "^1.0.0" } }],
    ["agent", { component: "agent", dependencies: {} }],
  ]);
  const find = (c: string) => catalog.get(c);
  assert.deepEqual(
    dependencyCycle({ component: "detector", dependencies: { labels: "^1.0.0" } }, find),
    ["detector", "labels", "detector"],
  );
  assert.equal(
    dependencyCycle({ component: "detector", dependencies: { agent: "*" } }, find),
    undefined,
  );
});

Deno.test("componentKey refuses names and versions that are not keys", () => {
  assert.equal(componentKey("detector", "1.3.0"), "detector.1.3.0");
  assert.throws(() => componentKey("Detector", "1.3.0"), TypeError);
  assert.throws(() => componentKey("detector", "1.3"), TypeError);
});
