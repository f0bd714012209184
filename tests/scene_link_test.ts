import assert from "node:assert/strict";
import { linkScene, SimulatedScene } from "../edge/sim/mod.ts";
import { eventually } from "./edge_harness.ts";
import { startTestNats } from "./harness.ts";

Deno.test("linkScene: a simulated secondary films the scenario its primary's shopper started", async () => {
  await using nats = await startTestNats();
  const primary = new SimulatedScene({ machineId: "m001", seed: 1000 });
  // Another seed: what the secondary films can only match the primary's if it follows it.
  const secondary = new SimulatedScene({ machineId: "m001", seed: 2000 });
  const own = secondary.current.scenario;
  const link = {
    servers: [nats.url],
    caFile: nats.caFile,
    region: "local",
    deviceId: "m001-a",
  };
  await using _a = await linkScene(primary, {
    ...link,
    role: "primary",
    credentialsFile: await nats.deviceCredentials({ deviceId: "m001-a" }),
  });
  await using _b = await linkScene(secondary, {
    ...link,
    role: "secondary",
    credentialsFile: await nats.deviceCredentials({ deviceId: "m001-b" }),
    deviceId: "m001-b",
    primaryDeviceId: "m001-a",
  });
  for (let i = 0; i < 2; i++) {
    const scenario = primary.startSession(1000);
    await eventually(
      () => (secondary.current.startedAt === primary.current.startedAt ? true : undefined),
      5000,
      "the secondary follows",
    );
    assert.notDeepEqual(scenario, own, "the seeds give the same scenario: the test proves nothing");
    assert.deepEqual(secondary.current.scenario, scenario);
  }
  const alone = new SimulatedScene({ machineId: "m001", seed: 1000 });
  await assert.rejects(
    linkScene(alone, { ...link, role: "secondary", deviceId: "m001-b" }),
    /needs primaryDeviceId/,
  );
});
