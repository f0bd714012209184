import assert from "node:assert/strict";
import { scenePoint, simulatedPlanogram } from "./planogram.ts";
import { randomScenario } from "./scenario.ts";
import { slotBox } from "./synthetic_camera.ts";

Deno.test("simulatedPlanogram maps every slot into every standard camera, by the renderer's geometry", () => {
  const scenario = randomScenario(5);
  const planogram = simulatedPlanogram(scenario);
  assert.equal(planogram.slots.length, 12);
  for (const s of planogram.slots) {
    assert.deepEqual(Object.keys(s.regions).sort(), ["cam-1", "cam-2", "cam-3"]);
    assert.equal(s.sku, scenario.shelves[s.shelf]![s.slot]!.sku);
  }
  // cam-1 looks straight at the cabinet: regions are the slot boxes.
  const box = slotBox(scenario, 1, 2);
  const r = planogram.slots.find((s) => s.shelf === 1 && s.slot === 2)!.regions["cam-1"]!;
  assert.deepEqual(r, box);
  // cam-2 is shifted and zoomed: the same slot lands elsewhere.
  const p = scenePoint(scenario.cameras[1]!, { x: box.x0, y: box.y0 });
  const r2 = planogram.slots.find((s) => s.shelf === 1 && s.slot === 2)!.regions["cam-2"]!;
  assert.ok(Math.abs(r2.x0 - p.x) < 1e-12 && r2.x0 !== box.x0);
});

Deno.test("simulatedPlanogram leaves out a camera that sees too little of a slot", () => {
  const scenario = randomScenario(5, {
    cameras: [{ cameraId: "cam-9", deviceId: "m001-a", x: 0.4, y: 0, zoom: 2 }],
  });
  const seen = simulatedPlanogram(scenario).slots.filter((s) => s.regions["cam-9"]);
  assert.ok(seen.length > 0 && seen.length < 12, `${seen.length} slots seen`);
});
