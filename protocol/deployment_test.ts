import assert from "node:assert/strict";
import { allMalformed, assertRefused, assertValid } from "./_family_test_util.ts";
import { deploymentEvent } from "./deployment.ts";
import fixtures from "./testdata/deployment_event.json" with { type: "json" };

Deno.test("parseDeploymentEvent accepts the fixtures and round-trips them", () => {
  assertValid(deploymentEvent, fixtures);
});

Deno.test("parseDeploymentEvent names the offending field of every malformed event", () => {
  const progress = fixtures[1]!;
  const n = assertRefused(deploymentEvent, [
    ...allMalformed(fixtures, { discriminators: ["type"] }),
    {
      what: "more done than total",
      input: { ...progress, bytesDone: 30_000_000 },
      field: "bytesDone",
    },
    { what: "unknown phase", input: { ...progress, phase: "praying" }, field: "phase" },
    {
      what: "component with a slash",
      input: { ...progress, component: "../agent" },
      field: "component",
    },
  ]);
  assert.ok(n >= 20, `only ${n} malformed events`);
});
