import assert from "node:assert/strict";
import { CameraRegistration, underLight } from "./camera_registration.ts";
import { randomScenario, type Scenario } from "./scenario.ts";
import { renderView } from "./synthetic_camera.ts";

const W = 320, H = 240;
const picture = (s: Scenario, cam: string, t: number) => ({
  data: renderView(s, cam, t, { width: W, height: H }),
  width: W,
  height: H,
});
const knocked = (s: Scenario, cam: string, knock: { x?: number; y?: number; roll?: number }) => ({
  ...s,
  cameras: s.cameras.map((c) =>
    c.cameraId === cam
      ? { ...c, x: c.x + (knock.x ?? 0), y: c.y + (knock.y ?? 0), roll: knock.roll ?? 0 }
      : c
  ),
});

Deno.test("CameraRegistration finds no motion when only the stock and the light changed", () => {
  for (const seed of [2000001, 2000002, 2000003]) {
    const s = randomScenario(seed);
    const r = new CameraRegistration();
    r.reference("cam-1", picture(s, "cam-1", 200));
    // After the session: units gone from their slots, another noise.
    const m = r.measure("cam-1", picture(s, "cam-1", s.durationMs));
    assert.deepEqual([m.dx, m.dy, m.roll], [0, 0, 0], `seed ${seed}: ${JSON.stringify(m)}`);
    const dim = { ...s, site: { tint: [0.78, 0.78, 0.8] as [number, number, number], slope: 0.3 } };
    const lit = r.measure("cam-1", picture(dim, "cam-1", 200));
    assert.deepEqual(
      [lit.dx, lit.dy, lit.roll],
      [0, 0, 0],
      `seed ${seed} dim: ${JSON.stringify(lit)}`,
    );
    const region = { x0: 0.1, y0: 0.2, x1: 0.3, y1: 0.4 };
    assert.equal(r.follow("cam-1", region), region, "a camera that did not move keeps its regions");
  }
});

Deno.test("CameraRegistration measures a camera knocked aside and turned, and its regions follow", () => {
  const s = randomScenario(2000004);
  const r = new CameraRegistration();
  r.reference("cam-2", picture(s, "cam-2", 200));
  // 0.02 of the scene to the right: the picture's content moves left by 0.02 * zoom * width.
  const zoom = s.cameras[1]!.zoom;
  const shifted = r.measure(
    "cam-2",
    picture(knocked(s, "cam-2", { x: 0.02, y: -0.01 }), "cam-2", 200),
  );
  assert.ok(Math.abs(shifted.dx - -0.02 * zoom * W) <= 2, JSON.stringify(shifted));
  assert.ok(Math.abs(shifted.dy - 0.01 * zoom * H) <= 2, JSON.stringify(shifted));
  assert.ok(Math.abs(shifted.roll) < 0.5, JSON.stringify(shifted));
  const turned = r.measure("cam-2", picture(knocked(s, "cam-2", { roll: 2.5 }), "cam-2", 200));
  assert.ok(Math.abs(turned.roll - 2.5) <= 0.6, JSON.stringify(turned));
  assert.ok(Math.hypot(turned.dx, turned.dy) <= 2, JSON.stringify(turned));
  // A region on the right of the picture goes down when the picture turns clockwise.
  const right = r.follow("cam-2", { x0: 0.8, y0: 0.45, x1: 0.9, y1: 0.55 });
  assert.ok(right.y0 > 0.45 + 0.02, JSON.stringify(right));
  assert.ok(Math.abs(right.y1 - right.y0 - 0.1) < 1e-9, "the region keeps its size");
  // Another camera, and one without a reference, are untouched.
  assert.deepEqual(r.motion("cam-1"), {
    dx: 0,
    dy: 0,
    roll: 0,
    agreed: 0,
    patches: 0,
    gain: [1, 1, 1],
  });
  assert.equal(r.measure("cam-9", picture(s, "cam-1", 200)).dx, 0);
});

Deno.test("underLight normalises a value seen now as its calibration value would be", () => {
  const norm = { mean: [0.5, 0.4, 0.3] as const, std: [0.2, 0.2, 0.2] as const };
  const gain = [2, 1, 0.5];
  const { mean, std } = underLight(norm, gain);
  // A value seen now v is v·g at calibration: both normalise to the same figure.
  for (const [c, now] of [[0, 0.2], [1, 0.7], [2, 0.9]] as const) {
    const then = now * gain[c]!;
    const a = (now - mean[c]) / std[c];
    const b = (then - norm.mean[c]) / norm.std[c];
    assert.ok(Math.abs(a - b) < 1e-12, `channel ${c}: ${a} against ${b}`);
  }
  assert.deepEqual(underLight(norm, [1, 1, 1]), { mean: [...norm.mean], std: [...norm.std] });
});
