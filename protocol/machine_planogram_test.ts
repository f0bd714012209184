import assert from "node:assert/strict";
import { MachinePlanogramSchema } from "./machine_planogram.ts";

Deno.test("MachinePlanogramSchema refuses a slot listed twice, naming the second", () => {
  const r = MachinePlanogramSchema.safeParse({
    version: 2,
    slots: [
      { shelf: 0, slot: 0, sku: "COLA-330", par: 4 },
      { shelf: 0, slot: 1, sku: null, par: 0 },
      { shelf: 0, slot: 0, sku: "TEA-500", par: 2 },
    ],
  });
  assert.equal(r.success, false);
  assert.deepEqual(r.error!.issues.map((i) => i.path.join(".")), ["slots.2"]);
  assert.match(r.error!.issues[0]!.message, /shelf 0 slot 0 is listed twice \(also slots\.0\)/);
});

Deno.test("MachinePlanogramSchema takes empty slots and refuses a par out of range", () => {
  const ok = MachinePlanogramSchema.safeParse({
    version: 1,
    slots: [{ shelf: 2, slot: 3, sku: null, par: 0 }],
  });
  assert.equal(ok.success, true);
  const bad = MachinePlanogramSchema.safeParse({
    version: 1,
    slots: [{ shelf: 0, slot: 0, sku: "COLA-330", par: 100 }],
  });
  assert.deepEqual(bad.error?.issues.map((i) => i.path.join(".")), ["slots.0.par"]);
});
