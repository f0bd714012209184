import assert from "node:assert/strict";
import { ModelSlots } from "./model_slots.ts";

Deno.test("ModelSlots keeps the live model and the candidate apart, and drops a candidate once promoted", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vend-models-" });
  const slots = new ModelSlots(dir);
  assert.deepEqual(await slots.read(), {}, "nothing before the first model update");
  const v1 = { component: "slot-model", version: "1.0.0", dir: `${dir}/a` };
  const v2 = { component: "slot-model", version: "2.0.0", dir: `${dir}/b` };
  await slots.setLive(v1);
  await slots.setCandidate(v2);
  assert.deepEqual(await new ModelSlots(dir).read(), { live: v1, candidate: v2 });
  await slots.setLive(v2);
  assert.deepEqual(await slots.read(), { live: v2 }, "promoted: no longer a candidate");
  await slots.setCandidate(v1);
  await slots.setCandidate(undefined);
  assert.deepEqual(await slots.read(), { live: v2 });
  await Deno.remove(dir, { recursive: true });
});
