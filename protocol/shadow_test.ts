import assert from "node:assert/strict";
import { allMalformed, assertRefused, assertValid } from "./_family_test_util.ts";
import { parseShadow, shadow } from "./shadow.ts";
import fixtures from "./testdata/shadow.json" with { type: "json" };

const options = {
  discriminators: ["kind"],
  opaque: ["state.config"],
  optional: ["state.config", "state.modelVersion", "state.cameras", "state.cameras.cam-1"],
};

Deno.test("parseShadow accepts desired and reported fixtures and round-trips them", () => {
  assertValid(shadow, fixtures);
});

Deno.test("parseShadow names the offending field of every malformed shadow", () => {
  const desired = fixtures[0]!;
  const n = assertRefused(shadow, [
    ...allMalformed(fixtures, options),
    { what: "version 0", input: { ...desired, version: 0 }, field: "version" },
    {
      what: "config key with a space",
      input: { ...desired, state: { config: { "bad key": 1 } } },
      field: "state.config.bad key",
    },
    {
      what: "config value that is an object",
      input: { ...desired, state: { config: { a: { b: 1 } } } },
      field: "state.config.a",
    },
    {
      what: "camera fps 0",
      input: {
        ...desired,
        state: { cameras: { "cam-1": { enabled: true, width: 640, height: 480, fps: 0 } } },
      },
      field: "state.cameras.cam-1.fps",
    },
  ]);
  assert.ok(n >= 20, `only ${n} malformed shadows`);
});

Deno.test("parseShadow tells desired from reported by kind", () => {
  const kinds = fixtures.map((f) => {
    const r = parseShadow(f);
    return r.ok ? r.value.kind : "refused";
  });
  assert.deepEqual(kinds, ["desired", "reported"]);
});
