import assert from "node:assert/strict";
import { summarize } from "./region_summaries.ts";

Deno.test("summarize counts a region's devices and online ones, by home region", () => {
  const homes: Record<string, string> = { "m001-a": "eu", "m001-b": "eu", "m002-a": "us" };
  const s = summarize("us", [
    { deviceId: "m001-a", status: "online" },
    { deviceId: "m001-b", status: "offline" },
    { deviceId: "m002-a", status: "online" },
    // Not registered (yet): counted under the region that hears it.
    { deviceId: "m003-a", status: "online" },
  ], { homeOf: (id) => homes[id], at: 42 });
  assert.deepEqual(s, {
    region: "us",
    devices: 4,
    online: 3,
    homes: { eu: { devices: 2, online: 1 }, us: { devices: 2, online: 2 } },
    at: 42,
  });
  assert.deepEqual(summarize("eu", [], { homeOf: () => undefined, at: 1 }), {
    region: "eu",
    devices: 0,
    online: 0,
    homes: {},
    at: 1,
  });
});
