import assert from "node:assert/strict";
import { MetricsRegistry, StageMetrics } from "./stage_metrics.ts";

Deno.test("StageMetrics reports frames per second and latency percentiles", () => {
  let clock = 0;
  const m = new StageMetrics("sync", { now: () => clock });
  for (let i = 0; i < 100; i++) {
    clock = i * 50; // 20 per second
    m.recordIn();
    m.recordOut(i < 98 ? 2 : 40);
  }
  const s = m.snapshot();
  assert.ok(Math.abs(s.fps - 20) < 0.5, `fps ${s.fps}`);
  assert.equal(s.p50Ms, 2);
  assert.equal(s.p99Ms, 40);
  assert.equal(s.inCount, 100);
  clock += 10_000;
  assert.equal(m.snapshot().fps, 0, "nothing in the last window");
});

Deno.test("MetricsRegistry keeps one metrics object per stage", () => {
  const r = new MetricsRegistry();
  r.stage("a").recordDrop(3);
  r.stage("a").recordError();
  r.stage("b");
  assert.deepEqual(r.snapshot().map((s) => [s.name, s.drops, s.errors]), [["a", 3, 1], [
    "b",
    0,
    0,
  ]]);
});
