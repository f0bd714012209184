import assert from "node:assert/strict";
import { randomScenario, type Scenario, scenarioTruth, stockAt } from "./scenario.ts";
import { handOver, renderView, slotBox } from "./synthetic_camera.ts";
import { applyWorld, HARD_WORLD, WORLD_CONDITION_NAMES } from "./world_conditions.ts";

const SIZE = { width: 96, height: 72 };
const mean = (px: Uint8Array, channel?: number) => {
  let sum = 0, n = 0;
  for (let i = 0; i < px.length; i += 4) {
    for (let c = 0; c < 3; c++) {
      if (channel === undefined || c === channel) (sum += px[i + c]!), n++;
    }
  }
  return sum / n;
};
/** The first seed from 1 whose scenario gets condition `name` with `conditions`. */
function withCondition(name: string, conditions = HARD_WORLD): [Scenario, Scenario] {
  for (let seed = 1; seed < 400; seed++) {
    const plain = randomScenario(seed);
    const hard = applyWorld(plain, conditions);
    if (hard.world?.includes(name)) return [plain, hard];
  }
  throw new Error(`no seed gets ${name}`);
}

Deno.test("applyWorld leaves the scenario as it is when no condition is asked for", () => {
  const s = randomScenario(31);
  assert.equal(applyWorld(s, {}), s);
  assert.equal(applyWorld(s, { twoHands: 0, knockedCamera: 0 }), s);
});

Deno.test("applyWorld draws the same world for the same seed, and about as often as asked", () => {
  const a = applyWorld(randomScenario(77), HARD_WORLD);
  const b = applyWorld(randomScenario(77), HARD_WORLD);
  assert.deepEqual(a, b);
  const counts = new Map<string, number>();
  for (let seed = 1000; seed < 1400; seed++) {
    for (const name of applyWorld(randomScenario(seed), HARD_WORLD).world ?? []) {
      counts.set(name, (counts.get(name) ?? 0) + 1);
    }
  }
  for (const name of Object.values(WORLD_CONDITION_NAMES)) {
    // 0.3 of 400 seeds, less where a condition cannot apply (e.g. a door over a touched slot).
    const n = counts.get(name) ?? 0;
    assert.ok(n >= 50 && n <= 150, `${name}: ${n} of 400`);
  }
});

Deno.test("applyWorld refuses a probability outside 0..1 and a scenario of two sessions", () => {
  const s = randomScenario(3);
  assert.throws(() => applyWorld(s, { twoHands: 1.5 }), /Invalid twoHands probability 1.5/);
  assert.throws(() => applyWorld(s, { siteLighting: -0.1 }), RangeError);
  assert.throws(
    () => applyWorld(randomScenario(3, { sessions: 2 }), { twoHands: 1 }),
    /it has 2 door sessions, expected 1/,
  );
});

Deno.test("a take-and-return leaves the cart as it was, and the slot is emptied in between", () => {
  const [plain, hard] = withCondition("take_and_return", { takeAndReturn: 1 });
  assert.deepEqual(scenarioTruth(hard).carts, scenarioTruth(plain).carts);
  assert.equal(hard.actions.length, plain.actions.length + 2);
  const back = hard.actions.findLast((a) => a.kind === "return")!;
  const take = hard.actions.findLast((a) => a.kind === "take" && a.at < back.at)!;
  assert.deepEqual([take.shelf, take.slot], [back.shelf, back.slot]);
  const between = stockAt(hard, (take.at + back.at) / 2)[take.shelf]![take.slot]!;
  assert.equal(between, stockAt(hard, hard.durationMs)[take.shelf]![take.slot]! - 1);
  assert.ok(hard.sessions[0]!.closeAt > back.at, "the door closes after the unit is back");
});

Deno.test("two hands: a second hand takes from another slot while the first is in the cabinet", () => {
  const [plain, hard] = withCondition("two_hands", { twoHands: 1 });
  const second = hard.actions.find((a) => a.hand === 1)!;
  const first = hard.actions.find((a) => a.kind === "take" && a.hand === undefined)!;
  const units = (s: Scenario) => [...scenarioTruth(s).carts[0]!.values()].reduce((a, b) => a + b);
  assert.equal(units(hard), units(plain) + 1, "the second hand's take is in the cart");
  const t = (first.at + second.at) / 2;
  assert.equal(handOver(hard, t, first).hand, true);
  assert.equal(handOver(hard, t, second).hand, true);
  assert.equal(handOver(plain, t, second).hand, false, "no hand there without the condition");
  // Both hands are drawn: the picture differs from the plain one's where the second hand is.
  assert.notDeepEqual(renderView(hard, "cam-1", t, SIZE), renderView(plain, "cam-1", t, SIZE));
  for (const at of [0, hard.durationMs]) {
    assert.ok(stockAt(hard, at).flat().every((n) => n >= 0), "no slot goes below empty");
  }
});

Deno.test("a partly open door lets in less light and stands beyond every slot the shopper touches", () => {
  const [plain, hard] = withCondition("partly_open_door", { partlyOpenDoor: 1 });
  const door = hard.door!;
  assert.ok(door.opening >= 0.35 && door.opening <= 0.65);
  for (const a of hard.actions) assert.ok(slotBox(hard, a.shelf, a.slot).x1 < door.edge);
  const open = hard.sessions[0]!.openAt + 400;
  assert.ok(
    mean(renderView(hard, "cam-1", open, SIZE)) <
      mean(renderView(plain, "cam-1", open, SIZE)) * 0.85,
  );
  // Closed, the door is out of the picture: the same bytes.
  assert.deepEqual(renderView(hard, "cam-1", 200, SIZE), renderView(plain, "cam-1", 200, SIZE));
});

Deno.test("another site's light changes the colours of every frame, closed door or open", () => {
  const [plain, hard] = withCondition("site_lighting", { siteLighting: 1 });
  const site = hard.site!;
  const ratio = (px: Uint8Array) => mean(px, 0) / mean(px, 2);
  const a = renderView(plain, "cam-2", 200, SIZE);
  const b = renderView(hard, "cam-2", 200, SIZE);
  const expected = site.tint[0] / site.tint[2];
  assert.ok(
    Math.abs(ratio(b) / ratio(a) - expected) < 0.1,
    `${ratio(b) / ratio(a)} vs ${expected}`,
  );
});

Deno.test("a knocked camera films askew while the others and the calibration pose stay", () => {
  const [plain, hard] = withCondition("knocked_camera", { knockedCamera: 1 });
  const k = hard.cameras.findIndex((c, i) => c !== plain.cameras[i]);
  const pose = hard.cameras[k]!;
  assert.ok(Math.abs(pose.roll!) >= 1 && Math.abs(pose.roll!) <= 3, `roll ${pose.roll}`);
  assert.ok(Math.abs(pose.x - plain.cameras[k]!.x) <= 0.02);
  assert.equal(plain.cameras[k]!.roll, undefined, "the scenario it came from is not changed");
  for (const [i, c] of hard.cameras.entries()) {
    const same = i !== k;
    const x = renderView(hard, c.cameraId, 200, SIZE);
    const y = renderView(plain, c.cameraId, 200, SIZE);
    assert.equal(x.every((v, j) => v === y[j]), same, `${c.cameraId}`);
  }
});
