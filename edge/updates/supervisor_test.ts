import assert from "node:assert/strict";
import { OtaSlots } from "./ota_slots.ts";
import { runSupervisor } from "./supervisor.ts";

Deno.test("supervisor logs a health report it can neither remove nor read, and goes on", async () => {
  const slots = await OtaSlots.open(await Deno.makeTempDir({ prefix: "vend-sup-unit-" }));
  // A folder (not empty) where the health report goes: removing and reading it both fail, and
  // neither is the expected "not there" (NotFound).
  await Deno.mkdir(`${slots.healthFile}/x`, { recursive: true });
  await slots.write({
    active: "a",
    slots: { a: { version: "1.0.0", command: "/bin/sh", args: ["-c", "sleep 5"] } },
    trial: {
      slot: "a",
      version: "1.0.0",
      deploymentId: null,
      boots: 0,
      maxBoots: 3,
      healthWindowMs: 400,
      bootAt: 0,
    },
    last: null,
  });
  const stop = new AbortController();
  const lines: Array<Record<string, unknown>> = [];
  const running = runSupervisor(slots, {
    signal: stop.signal,
    restartDelayMs: 50,
    output: "null",
    log: (l) => void lines.push(l),
  });
  try {
    const deadline = Date.now() + 20_000;
    while (!lines.some((l) => l.msg === "rolled back") && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    stop.abort();
    await running;
  }
  const said = (msg: string) => lines.filter((l) => l.msg === msg);
  assert.ok(said("cannot remove the old health report").length >= 1, JSON.stringify(lines));
  assert.match(String(said("cannot remove the old health report")[0]!.error), /not empty/i);
  // Read every 200 ms while the window lasts, said once.
  assert.equal(said("cannot read the health report").length, 1, JSON.stringify(lines));
  assert.match(String(said("cannot read the health report")[0]!.error), /directory/i);
  // The window still decided: the version that never reported healthy was rolled back.
  assert.equal(said("rolled back").length, 1, JSON.stringify(lines));
  await Deno.remove(slots.dir, { recursive: true });
});
