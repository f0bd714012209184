import assert from "node:assert/strict";
import type { Frame } from "./frame.ts";
import { randomScenario, scenarioTruth, stockAt } from "./scenario.ts";
import { handOver, renderView, syntheticCamera } from "./synthetic_camera.ts";

Deno.test("synthetic camera renders the same bytes for the same seed, camera and time", () => {
  const a = renderView(randomScenario(5), "cam-2", 1234, { width: 64, height: 48 });
  const b = renderView(randomScenario(5), "cam-2", 1234, { width: 64, height: 48 });
  const c = renderView(randomScenario(6), "cam-2", 1234, { width: 64, height: 48 });
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
});

Deno.test("scenario ground truth matches the planogram's stock and the hand's actions", () => {
  for (let seed = 1; seed <= 20; seed++) {
    const s = randomScenario(seed, { takes: [1, 4], returnProbability: 0.5 });
    const truth = scenarioTruth(s);
    const before = stockAt(s, 0).flat().reduce((x, y) => x + y, 0);
    const after = stockAt(s, s.durationMs).flat().reduce((x, y) => x + y, 0);
    const taken = [...truth.carts[0]!.values()].reduce((x, y) => x + y, 0);
    assert.equal(before - after, taken, `seed ${seed}`);
    assert.equal(truth.events[0]!.type, "door_opened");
    assert.equal(truth.events.at(-1)!.type, "door_closed");
  }
});

Deno.test("synthetic camera shows the door opening, the hand and the taken product", () => {
  const s = randomScenario(11, { takes: [1, 1], returnProbability: 0 });
  const take = s.actions[0]!;
  const size = { width: 96, height: 72 };
  const mean = (px: Uint8Array) => px.reduce((a, v) => a + v, 0) / px.length;
  const closed = renderView(s, "cam-1", 200, size);
  const open = renderView(s, "cam-1", s.sessions[0]!.openAt + 400, size);
  assert.ok(mean(open) > mean(closed) * 1.3, "light comes in when the door opens");
  const beforeTake = renderView(s, "cam-1", take.at - 700, size);
  const hand = renderView(s, "cam-1", take.at - 100, size);
  const afterTake = renderView(s, "cam-1", take.at + 700, size);
  // Share of bytes that changed by more than the noise could explain.
  const changed = (x: Uint8Array, y: Uint8Array) =>
    x.reduce((a, v, i) => a + (Math.abs(v - y[i]!) > 40 ? 1 : 0), 0) / x.length;
  assert.ok(changed(beforeTake, hand) > 0.005, `the hand shows (${changed(beforeTake, hand)})`);
  assert.ok(
    changed(beforeTake, afterTake) > 0.0005,
    `the shelf changed after the take (${changed(beforeTake, afterTake)})`,
  );
  assert.ok(
    changed(afterTake, renderView(s, "cam-1", take.at + 750, size)) < 0.001,
    "a still scene stays still",
  );
});

Deno.test("syntheticCamera streams frames at its rate, stamped on its device clock, with drops and a stop", async () => {
  const s = randomScenario(3);
  const frames: Frame[] = [];
  const stream = syntheticCamera(s, {
    cameraId: "cam-3",
    width: 32,
    height: 24,
    fps: 10,
    startTs: 1_000_000,
    clockOffsetMs: -50,
    dropFrames: new Set([2]),
    stopAtMs: 1000,
  });
  for await (const f of stream) frames.push(f);
  assert.deepEqual(frames.map((f) => f.seq), [0, 1, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual(frames.map((f) => f.ts).slice(0, 2), [999_950, 1_000_050]);
  assert.equal(frames[0]!.deviceId, "m001-b");
  assert.throws(
    () => syntheticCamera(s, { cameraId: "cam-7", width: 32, height: 24, fps: 10 }),
    /Cannot open camera "cam-7"/,
  );
  assert.throws(() => renderView(s, "cam-1", 0, { width: 2, height: 24 }), RangeError);
});

Deno.test("handOver gives the hand head's truth: clear, a covering arm, a hand holding the unit", () => {
  const scenario = randomScenario(11, { takes: [2, 2], returnProbability: 0 });
  const take = scenario.actions[0]!;
  const place = { shelf: take.shelf, slot: take.slot };
  // Before the door opens nothing is over any slot.
  assert.deepEqual(handOver(scenario, scenario.sessions[0]!.openAt - 100, place), {
    hand: false,
    holding: null,
  });
  // Reaching in (just before the take) the hand is over the slot, empty; just after, it holds it.
  assert.deepEqual(handOver(scenario, take.at - 20, place), { hand: true, holding: null });
  assert.deepEqual(handOver(scenario, take.at + 20, place), { hand: true, holding: take.sku });
  // Halfway out, the hand has left the slot (unless the slot lies on the arm's way down).
  const later = handOver(scenario, take.at + 550, place);
  assert.equal(later.holding, null);
});

Deno.test("synthetic camera draws the bytes the default model was trained on (the world conditions change none)", async () => {
  // Digests of renders before the world conditions came (the renderer's training output).
  const expected = [
    "7 cam-1 5243435f631e38b3",
    "7 cam-3 a6333905cc696e0a",
    "8 cam-1 fd9a208500557c71",
    "8 cam-3 b53bc42d8e462aed",
    "2000001 cam-1 c3d9cdff7adcf773",
    "2000001 cam-3 58f68627e8361c40",
  ];
  const got: string[] = [];
  for (
    const [seed, hard, t] of [[7, false, 1500], [8, true, 2300], [2000001, false, 2600]] as const
  ) {
    const scenario = randomScenario(seed, { hard });
    for (const cam of ["cam-1", "cam-3"]) {
      const px = renderView(scenario, cam, t, { width: 160, height: 120 });
      const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", px.slice())).slice(0, 8);
      got.push(
        `${seed} ${cam} ${[...digest].map((b) => b.toString(16).padStart(2, "0")).join("")}`,
      );
    }
  }
  assert.deepEqual(got, expected);
});
