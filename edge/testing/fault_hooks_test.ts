import assert from "node:assert/strict";
import { faultHooks, parseFaultSpec } from "./fault_hooks.ts";

Deno.test("parseFaultSpec reads each kind of fault and names a bad one", () => {
  assert.equal(parseFaultSpec(undefined), undefined);
  assert.equal(parseFaultSpec(""), undefined);
  assert.deepEqual(parseFaultSpec("after_publish:3"), { kill: "after_publish", at: 3 });
  assert.deepEqual(parseFaultSpec("after_outbox_write:1"), { kill: "after_outbox_write", at: 1 });
  assert.deepEqual(parseFaultSpec("update:first_start"), { kill: "update", phase: "first_start" });
  for (const bad of ["after_publish:0", "after_publish", "update:reboot", "kill:now"]) {
    assert.throws(() => parseFaultSpec(bad), (e: Error) => {
      assert.ok(e instanceof RangeError);
      assert.ok(e.message.includes(JSON.stringify(bad)), e.message);
      return true;
    });
  }
});

Deno.test("faultHooks kills at the Nth outbox write only, and not at publishes", () => {
  let kills = 0;
  const hooks = faultHooks(parseFaultSpec("after_outbox_write:3"), { kill: () => kills++ });
  assert.equal(hooks.afterOutboxPublish, undefined);
  for (let i = 0; i < 5; i++) {
    hooks.afterOutboxAppend!();
    assert.equal(kills, i >= 2 ? 1 : 0, `after write ${i + 1}`);
  }
});

Deno.test("faultHooks kills before an update phase once per update folder", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vend-fault-" });
  try {
    const kills: string[] = [];
    const hooks = faultHooks(parseFaultSpec("update:install"), { kill: () => kills.push("kill") });
    hooks.beforeUpdatePhase!("download", dir);
    assert.equal(kills.length, 0);
    hooks.beforeUpdatePhase!("install", dir);
    assert.deepEqual(kills, ["kill"]);
    // The restarted program finishes the update.
    const again = faultHooks(parseFaultSpec("update:install"), { kill: () => kills.push("again") });
    again.beforeUpdatePhase!("install", dir);
    assert.deepEqual(kills, ["kill"]);
    await Deno.stat(`${dir}/fault-install.done`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("faultHooks kills a version on trial before it says it is healthy, once", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vend-fault-" });
  try {
    let kills = 0;
    const hooks = faultHooks(parseFaultSpec("update:first_start"), { kill: () => kills++ });
    assert.equal(hooks.beforeUpdatePhase, undefined);
    await hooks.beforeTrialHealthy!(dir);
    await hooks.beforeTrialHealthy!(dir);
    assert.equal(kills, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
