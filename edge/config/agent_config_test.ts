import assert from "node:assert/strict";
import { ConfigError, loadAgentConfig, parseAgentConfig, PlanogramSchema } from "./agent_config.ts";

Deno.test("agent config fills defaults from a minimal file", () => {
  const c = parseAgentConfig({
    deviceId: "m001-a",
    machineId: "m001",
    role: "primary",
    nats: { servers: ["nats://127.0.0.1:4222"] },
    dataDir: "/tmp/x",
  });
  assert.equal(c.region, "local");
  assert.equal(c.heartbeatIntervalMs, 5000);
  assert.equal(c.outbox.maxBytes, 256 * 1024 * 1024);
});

Deno.test("agent config refuses a bad config listing every bad field", () => {
  try {
    parseAgentConfig({
      deviceId: "M1 A",
      machineId: "m001",
      role: "tertiary",
      nats: { servers: ["http://x"] },
      heartbeatIntervalMs: 5,
      hardware: "linux",
      colour: "red",
    });
    assert.fail("accepted");
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    const fields = e.problems.map((p) => p.split(":")[0]);
    for (
      const f of ["deviceId", "role", "nats.servers[0]", "dataDir", "heartbeatIntervalMs", "colour"]
    ) {
      assert.ok(fields.includes(f), `${f} not listed in ${e.message}`);
    }
  }
  assert.throws(
    () =>
      parseAgentConfig({
        deviceId: "m1-b",
        machineId: "m1",
        role: "secondary",
        nats: { servers: ["nats://a:1"] },
        dataDir: "/d",
      }),
    /primaryDeviceId: is required for a secondary device/,
  );
});

Deno.test("agent config takes the environment over the file and names an unreadable file", async () => {
  const dir = await Deno.makeTempDir();
  const file = `${dir}/agent.json`;
  await Deno.writeTextFile(
    file,
    JSON.stringify({
      deviceId: "m001-a",
      machineId: "m001",
      role: "primary",
      nats: { servers: ["nats://a:1"] },
      dataDir: dir,
    }),
  );
  const c = await loadAgentConfig(file, {
    env: { VEND_DEVICE_ID: "m009-a", NATS_URL: "nats://b:2, nats://c:3" },
  });
  assert.equal(c.deviceId, "m009-a");
  assert.deepEqual(c.nats.servers, ["nats://b:2", "nats://c:3"]);
  await assert.rejects(
    loadAgentConfig(`${dir}/missing.json`, { env: {} }),
    /missing.json.*cannot read the file/s,
  );
  await Deno.writeTextFile(file, "{ not json");
  await assert.rejects(loadAgentConfig(file, { env: {} }), /not valid JSON/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("recognition settings default to WASM and a 0.8 threshold; a planogram's bad region is named", () => {
  const c = parseAgentConfig({
    deviceId: "m001-a",
    machineId: "m001",
    role: "primary",
    nats: { servers: ["nats://a:1"] },
    dataDir: "/tmp/x",
    recognition: { model: "/opt/model" },
  });
  assert.deepEqual(c.recognition, {
    model: "/opt/model",
    backend: "wasm",
    threads: 1,
    threshold: 0.8,
  });
  assert.throws(
    () => parseAgentConfig({ ...c, recognition: { backend: "gpu" } }),
    (e) => e instanceof ConfigError && /recognition\.backend/.test(e.message),
  );
  const slot = {
    shelf: 0,
    slot: 0,
    sku: "COLA-330",
    regions: { "cam-1": { x0: 0.1, y0: 0.1, x1: 0.3, y1: 0.4 } },
  };
  assert.ok(PlanogramSchema.safeParse({ slots: [slot] }).success);
  const bad = PlanogramSchema.safeParse({
    slots: [{ ...slot, regions: { "cam-1": { x0: 0.5, y0: 0.1, x1: 0.3, y1: 0.4 } } }],
  });
  assert.ok(!bad.success);
  assert.deepEqual(bad.error.issues[0]!.path, ["slots", 0, "regions", "cam-1"]);
});
