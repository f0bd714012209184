import assert from "node:assert/strict";
import { ClockModel, type ClockProbe, runClockSync } from "./clock_sync.ts";
import { prng } from "./scenario.ts";

/** A simulated link: reference = local * (1 + drift) + offset; each leg 1-11 ms, random. */
function simulate(offset: number, driftPpm: number, seed: number) {
  const rand = prng(seed);
  const ref = (local: number) => local * (1 + driftPpm / 1e6) + offset;
  return (t0: number) => {
    const up = 1 + rand() * 10;
    const down = 1 + rand() * 10;
    const t1 = ref(t0 + up);
    const t2 = t1 + 0.2;
    const t3 = t0 + up + 0.2 + down;
    return { t0, t1, t2, t3, truth: ref };
  };
}

Deno.test("ClockModel finds a 50 ms offset within 2.5 ms despite 10 ms of network jitter", () => {
  for (let seed = 1; seed <= 20; seed++) {
    const link = simulate(50, 0, seed);
    const model = new ClockModel();
    for (let i = 0; i < 40; i++) model.add(link(1_000_000 + i * 1000));
    const e = model.estimate(1_040_000);
    assert.ok(Math.abs(e.offsetMs - 50) < 2.5, `seed ${seed}: offset ${e.offsetMs}`);
    assert.ok(Math.abs(model.toReference(1_040_000) - 1_040_050) < 2.5);
    assert.ok(e.minDelayMs < 8, `min delay ${e.minDelayMs}`);
  }
});

Deno.test("ClockModel is usable after a short burst", () => {
  const link = simulate(50, 0, 4);
  const model = new ClockModel();
  for (let i = 0; i < 8; i++) model.add(link(2_000_000 + i * 20));
  assert.ok(Math.abs(model.estimate(2_000_200).offsetMs - 50) < 4.5);
});

Deno.test("ClockModel tracks drift so that the offset stays right as time passes", () => {
  const link = simulate(-20, 200, 9); // a crystal 200 ppm fast
  const model = new ClockModel();
  const start = 5_000_000;
  for (let i = 0; i < 64; i++) model.add(link(start + i * 2000));
  const later = start + 64 * 2000 + 30_000; // 30 s after the last sample
  const truth = link(later).truth(later);
  assert.ok(
    Math.abs(model.toReference(later) - truth) < 2,
    `error ${model.toReference(later) - truth} ms`,
  );
  assert.ok(
    Math.abs(model.estimate(later).driftPpm - 200) < 60,
    `drift ${model.estimate(later).driftPpm}`,
  );
});

Deno.test("ClockModel refuses samples that go backwards", () => {
  const model = new ClockModel();
  assert.throws(() => model.add({ t0: 10, t1: 5, t2: 6, t3: 9 }), /goes backwards/);
  assert.throws(() => model.add({ t0: 10, t1: NaN, t2: 6, t3: 19 }), RangeError);
  assert.equal(model.ready, false);
});

Deno.test("runClockSync fills a model over a slow link and skips a failed exchange", async () => {
  let calls = 0;
  const errors: Error[] = [];
  const probe: ClockProbe = {
    async exchange(t0) {
      calls++;
      if (calls === 3) throw new Error("request timed out");
      await new Promise((r) => setTimeout(r, 2));
      return { t1: t0 + 50 + 1, t2: t0 + 50 + 1 };
    },
  };
  const stop = new AbortController();
  const model = await runClockSync(probe, {
    burst: 6,
    intervalMs: 10,
    signal: stop.signal,
    onError: (e) => errors.push(e),
  });
  stop.abort();
  assert.equal(errors.length, 1);
  assert.equal(model.estimate(Date.now()).samples, 5);
  assert.ok(Math.abs(model.estimate(Date.now()).offsetMs - 50) < 3);
});
