import assert from "node:assert/strict";
import { HARD_WORLD } from "../../pipeline/mod.ts";
import { type SceneState, SimulatedScene } from "./simulated_machine.ts";
import { shoppingScenario, simulatedWorld } from "./simulated_world.ts";
import { standardSlots } from "./world_stocking.ts";

Deno.test("simulatedWorld names the clean and hard worlds and refuses any other", () => {
  assert.deepEqual(simulatedWorld("clean"), {});
  assert.equal(simulatedWorld("hard").world, HARD_WORLD);
  assert.ok((simulatedWorld("hard").deviations?.wrongSlot ?? 0) > 0);
  assert.throws(
    () => simulatedWorld("harder"),
    /Unknown world "harder": expected one of clean, hard/,
  );
});

Deno.test("shoppingScenario stocks by the planogram, then adds the world's conditions unless at rest", () => {
  const slots = standardSlots();
  const hard = simulatedWorld("hard");
  let withWorld = 0;
  for (let seed = 2000001; seed <= 2000020; seed++) {
    const clean = shoppingScenario(seed, { machineId: "m001", slots }).scenario;
    const { scenario } = shoppingScenario(seed, { machineId: "m001", slots, ...hard });
    const atRest = shoppingScenario(seed, { machineId: "m001", slots, ...hard, atRest: true });
    assert.equal(atRest.scenario.world, undefined, `seed ${seed} at rest`);
    assert.deepEqual(atRest.scenario.cameras, clean.cameras, "as installed and calibrated");
    if (scenario.world) withWorld++;
  }
  assert.ok(withWorld >= 10, `${withWorld} of 20 hard scenarios have a condition`);
});

Deno.test("SimulatedScene films the world's conditions in shopping sessions, and a follower films the same", () => {
  let now = 1_000_000;
  const primary = new SimulatedScene({ seed: 2000000, now: () => now, ...simulatedWorld("hard") });
  const secondary = new SimulatedScene({ seed: 5, now: () => now });
  const announced: SceneState[] = [];
  primary.onSession((s) => announced.push(s));
  const calibrated = primary.current.scenario;
  assert.equal(calibrated.world, undefined, "at rest, the cabinet is as installed");
  primary.stock(standardSlots());
  assert.equal(
    announced.at(-1)?.world,
    undefined,
    "at rest the world's conditions are not announced",
  );
  let conditions = 0;
  for (let i = 0; i < 10; i++) {
    now += 20_000;
    const scenario = primary.startSession(1000);
    const state = announced.at(-1)!;
    assert.deepEqual(state.world, HARD_WORLD);
    secondary.follow(state);
    assert.deepEqual(secondary.current.scenario, scenario, `session ${i}: the same scene`);
    if (scenario.world) conditions++;
  }
  assert.ok(conditions > 0, "ten hard sessions and not one condition");
  assert.throws(
    () => secondary.follow({ seed: 3, startedAt: now, world: { twoHands: 7 } }),
    /its stocking or world cannot be shown/,
  );
});
