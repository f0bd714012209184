import assert from "node:assert/strict";
import { wantedDocs } from "../cli/docs.ts";
import { ROOT } from "./harness.ts";

Deno.test("protocol/README.md and protocol/schema/ match the zod schemas (./vend docs)", async () => {
  const wanted = await wantedDocs();
  assert.ok(wanted.size >= 10, `only ${wanted.size} generated files`);
  for (const [path, text] of wanted) {
    const current = await Deno.readTextFile(path).catch(() => "(missing)");
    assert.ok(current === text, `${path.slice(ROOT.length)} is out of date: run ./vend docs`);
  }
});
