/** The supervisor keeps the device on a working version (real processes, fake programs). */
import assert from "node:assert/strict";
import { OtaSlots, runSupervisor } from "../edge/mod.ts";
import { type OtaState } from "../edge/updates/mod.ts";
import { eventually } from "./edge_harness.ts";
import { ROOT } from "./harness.ts";

const FAKE = `${ROOT}tests/testdata/fake_version.ts`;
const run = (mode: string) => ({ command: Deno.execPath(), args: ["run", "-A", FAKE, mode] });

async function device(newMode: string, window = 3000) {
  const slots = await OtaSlots.open(await Deno.makeTempDir({ prefix: "vend-ota-sup-" }));
  await slots.write({
    active: "a",
    slots: { a: { version: "1.0.0", ...run("healthy") } },
    trial: null,
    last: null,
  });
  await slots.prepareInactive();
  await slots.switchTo({ version: "2.0.0", ...run(newMode) }, {
    deploymentId: "dep-00001",
    maxBoots: 3,
    healthWindowMs: window,
  });
  return slots;
}

async function supervise(
  slots: OtaSlots,
  until: (s: OtaState) => boolean,
  andThen: () => Promise<boolean> = () => Promise.resolve(true),
) {
  const stop = new AbortController();
  const states: OtaState[] = [];
  const running = runSupervisor(slots, {
    signal: stop.signal,
    restartDelayMs: 100,
    log: () => {},
    onState: (s) => states.push(s),
  });
  try {
    const found = await eventually(() => states.find(until), 30_000, "the expected state");
    await eventually(async () => (await andThen()) || undefined, 10_000, "what follows");
    return found;
  } finally {
    stop.abort();
    await running;
  }
}

async function started(slots: OtaSlots): Promise<string[]> {
  return (await Deno.readTextFile(`${slots.dir}/started.log`)).trim().split("\n");
}

Deno.test("supervisor keeps a new version that reports healthy within its window", async () => {
  const slots = await device("healthy");
  const s = await supervise(slots, (s) => s.last?.status === "healthy");
  assert.equal(s.active, "b");
  assert.equal(s.trial, null);
  assert.deepEqual(s.last && [s.last.version, s.last.deploymentId], ["2.0.0", "dep-00001"]);
  assert.deepEqual(await started(slots), ["2.0.0 healthy"]);
});

Deno.test("supervisor abandons a new version that crashes at start, after its boot budget", async () => {
  const slots = await device("crash");
  // Rolled back, and (while the supervisor still runs) the old version starts again.
  const s = await supervise(
    slots,
    (s) => s.last?.status === "rolled_back",
    async () => (await started(slots)).includes("1.0.0 healthy"),
  );
  assert.equal(s.active, "a");
  assert.match(s.last!.reason!, /3 starts failed/);
  assert.deepEqual((await started(slots)).slice(0, 3), [
    "2.0.0 crash",
    "2.0.0 crash",
    "2.0.0 crash",
  ]);
  assert.equal((await slots.read()).active, "a");
});

Deno.test("supervisor rolls back a new version that hangs without reporting healthy", async () => {
  const slots = await device("hang", 1500);
  const s = await supervise(slots, (s) => s.last?.status === "rolled_back");
  assert.equal(s.active, "a");
  assert.match(s.last!.reason!, /did not report healthy within 1500 ms/);
});

Deno.test("supervisor counts a boot cut short by power loss (its counter is on disk before each start)", async () => {
  const slots = await device("crash");
  // Two boots already happened before the power went.
  await slots.update((s) => ({ ...s, trial: s.trial && { ...s.trial, boots: 2 } }));
  const s = await supervise(slots, (s) => s.last?.status === "rolled_back");
  assert.equal(s.active, "a");
  assert.deepEqual((await started(slots)).filter((l) => l.startsWith("2.0.0")).length, 1);
});
