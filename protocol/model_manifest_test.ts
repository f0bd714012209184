import { allMalformed, assertRefused, assertValid } from "./_family_test_util.ts";
import { modelManifest } from "./model_manifest.ts";
import fixtures from "./testdata/model_manifest.json" with { type: "json" };

Deno.test("modelManifest accepts the fixtures and round-trips them", () => {
  assertValid(modelManifest, fixtures);
});

Deno.test("modelManifest names the offending field of every malformed manifest", () => {
  const base = fixtures[0]!;
  assertRefused(modelManifest, [
    ...allMalformed(fixtures),
    {
      what: "no empty label",
      input: { ...base, labels: ["COLA-330", "empty"] },
      field: "labels[0]",
    },
    { what: "repeated label", input: { ...base, labels: ["empty", "A", "A"] }, field: "labels" },
    {
      what: "zero std",
      input: { ...base, input: { ...base.input, std: [0, 1, 1] } },
      field: "input.std[0]",
    },
    { what: "not onnx", input: { ...base, file: "model.pb" }, field: "file" },
    {
      what: "NHWC",
      input: { ...base, input: { ...base.input, layout: "NHWC" } },
      field: "input.layout",
    },
  ]);
});
