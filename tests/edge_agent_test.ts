import assert from "node:assert/strict";
import { Kvm } from "@nats-io/kv";
import { Objm } from "@nats-io/obj";
import { ensureStreams } from "../cloud/nats/mod.ts";
import { Agent } from "../edge/mod.ts";
import { linkScene, SimulatedHardware, SimulatedScene } from "../edge/sim/mod.ts";
import type { Frame } from "../pipeline/mod.ts";
import {
  bucketIn,
  buckets,
  type CommandRequest,
  filters,
  newEnvelope,
  parseCommandReply,
  parseHeartbeat,
  parseShadow,
  parseTelemetry,
  shadow,
  shadowKey,
  signCommand,
  signedCommand,
  type SigningKey,
  subjects,
  toBase64Url,
} from "../protocol/mod.ts";
import {
  assertSessionsInOrder,
  eventually,
  SMALL_CAMERA,
  streamEvents,
  testAgentConfig,
} from "./edge_harness.ts";
import { startTestNats } from "./harness.ts";

const dev = { region: "local", deviceId: "m001-a" };
const quiet = { log: () => {} };

/** A command request signed with the cloud's command key (as the cloud sends them). */
function command(
  key: SigningKey,
  body: Pick<CommandRequest, "command" | "args">,
  overrides: Partial<CommandRequest> = {},
): Promise<Uint8Array> {
  return signCommand({
    ...newEnvelope(),
    deviceId: "m001-a",
    issuer: "op-test",
    expiresAt: Date.now() + 10_000,
    ...body,
    ...overrides,
  } as CommandRequest, key);
}

/** Signs any JSON text as a command (to send what the schema would refuse to sign). */
async function signRaw(key: SigningKey, text: string): Promise<Uint8Array> {
  const sig = await crypto.subtle.sign(
    { name: "Ed25519" },
    key.privateKey,
    new TextEncoder().encode(text),
  );
  return signedCommand.encode({
    command: text,
    keyId: key.keyId,
    signature: toBase64Url(new Uint8Array(sig)),
  });
}

Deno.test("agent heartbeats, reports telemetry and its shadow", async () => {
  await using nats = await startTestNats();
  await using nc = await nats.connect();
  await ensureStreams(nc, "local");
  const beats = nc.subscribe(filters.heartbeats(), { max: 2 });
  const tel = nc.subscribe(filters.telemetry(), { max: 1 });
  await using agent = await Agent.start(await testAgentConfig(nats), quiet);
  for await (const m of beats) {
    const hb = parseHeartbeat(m.data);
    assert.ok(hb.ok, hb.ok ? "" : hb.error.message);
    assert.equal(hb.value.deviceId, "m001-a");
    assert.equal(m.subject, subjects.heartbeat(dev));
  }
  for await (const m of tel) assert.ok(parseTelemetry(m.data).ok);
  const kv = await new Kvm(nc).open(bucketIn(buckets.shadow, "local"));
  const reported = await eventually(
    async () => (await kv.get(shadowKey("m001-a", "reported")))?.value,
    5000,
    "reported shadow",
  );
  const parsed = parseShadow(reported);
  assert.ok(parsed.ok && parsed.value.kind === "reported");
  assert.equal(parsed.value.state.config?.heartbeatIntervalMs, 200);
  assert.ok(agent.connected);
});

Deno.test("agent applies a desired state and reports what it could not apply", async () => {
  await using nats = await startTestNats();
  await using nc = await nats.connect();
  await using agent = await Agent.start(await testAgentConfig(nats), quiet);
  const kv = await new Kvm(nc).create(bucketIn(buckets.shadow, "local"), { history: 5 });
  await eventually(
    () => kv.get(shadowKey("m001-a", "reported")).then((e) => e?.value),
    5000,
    "first report",
  );
  await kv.put(
    shadowKey("m001-a", "desired"),
    shadow.encode({
      ...newEnvelope(),
      deviceId: "m001-a",
      kind: "desired",
      version: 1,
      state: { config: { heartbeatIntervalMs: 1000, brightness: 3 } },
      updatedBy: "op-test",
    }),
  );
  const applied = await eventually(
    async () => {
      const r = parseShadow((await kv.get(shadowKey("m001-a", "reported")))!.value);
      return r.ok && r.value.kind === "reported" && r.value.applied.desiredVersion === 1
        ? r.value
        : undefined;
    },
    5000,
    "applied report",
  );
  assert.equal(applied.applied.ok, false);
  assert.deepEqual(applied.applied.errors, [{
    field: "config.brightness",
    reason: "unknown setting",
  }]);
  assert.equal(applied.state.config?.heartbeatIntervalMs, 1000);
  assert.equal(agent.config.heartbeatIntervalMs, 1000);
});

Deno.test("agent unlocks once per command id, refuses expired and unknown commands", async () => {
  await using nats = await startTestNats();
  await using nc = await nats.connect();
  const key = await nats.commandKey();
  const hardware = new SimulatedHardware();
  await using _agent = await Agent.start(await testAgentConfig(nats), { ...quiet, hardware });
  const subject = subjects.command(dev, "unlock");
  await eventually(
    async () =>
      nc.request(subject, await command(key, { command: "diagnostics", args: {} }), {
        timeout: 500,
      }).then(
        () => true,
      ),
    5000,
    "agent online",
  );
  const unlock = await command(key, {
    command: "unlock",
    args: { sessionId: null, durationMs: 5000 },
  });
  const first = parseCommandReply((await nc.request(subject, unlock, { timeout: 2000 })).data);
  const again = parseCommandReply((await nc.request(subject, unlock, { timeout: 2000 })).data);
  assert.ok(first.ok && first.value.status === "ok");
  assert.deepEqual(again, first, "a replayed id gets the first result");
  assert.deepEqual(hardware.unlocks, [5000], "the door was unlocked once");
  const expired = parseCommandReply(
    (await nc.request(
      subject,
      await command(key, { command: "unlock", args: { sessionId: null, durationMs: 5000 } }, {
        expiresAt: Date.now() - 1,
      }),
      { timeout: 2000 },
    )).data,
  );
  assert.ok(
    expired.ok && expired.value.status === "error" && expired.value.error.code === "expired",
  );
  const raw = await signRaw(
    key,
    JSON.stringify({
      ...JSON.parse(JSON.parse(new TextDecoder().decode(unlock)).command),
      id: "0193a1b2-c3d4-7e5f-8a9b-999999999999",
      command: "self_destruct",
    }),
  );
  const unknown = parseCommandReply(
    (await nc.request(subjects.command(dev, "self_destruct"), raw, { timeout: 2000 })).data,
  );
  assert.ok(unknown.ok && unknown.value.status === "error");
  assert.equal(unknown.value.error.code, "unknown_command");
  assert.match(unknown.value.error.message, /Unknown command "self_destruct"/);
  assert.deepEqual(hardware.unlocks, [5000]);
  assert.equal(
    unknown.value.commandId,
    "0193a1b2-c3d4-7e5f-8a9b-999999999999",
    "the refusal answers the request",
  );
});

Deno.test("agent turns a door session into events, exactly once and in order, and snapshots a camera", async () => {
  await using nats = await startTestNats();
  await using nc = await nats.connect();
  const key = await nats.commandKey();
  await ensureStreams(nc, "local");
  const hardware = new SimulatedHardware();
  const config = await testAgentConfig(nats, {
    cameras: [{ cameraId: "cam-1", source: { kind: "synthetic" }, width: 64, height: 48, fps: 10 }],
  });
  await using agent = await Agent.start(config, {
    ...quiet,
    hardware,
    cartDecider: {
      decide: () =>
        Promise.resolve({
          cart: [{ sku: "COLA-330", qty: 2 }],
          confidence: 0.97,
          reviewReasons: [],
          modelVersion: "test",
        }),
    },
  });
  await eventually(() => (agent.connected ? true : undefined), 5000, "connected");
  hardware.setDoor("open");
  await new Promise((r) => setTimeout(r, 100));
  hardware.setDoor("closed");
  const events = await eventually(
    async () => {
      const e = await streamEvents(nc, "m001-a");
      return e.length >= 3 ? e : undefined;
    },
    5000,
    "3 events",
  );
  assertSessionsInOrder(events);
  const done = events[2]!;
  assert.ok(done.type === "session_completed" && done.cart[0]?.qty === 2 && !done.review.required);
  assert.equal(hardware.forcedOpenings, 1, "opened without an unlock counts as forced");

  const reply = await eventually(
    async () => {
      const r = parseCommandReply(
        (await nc.request(
          subjects.command(dev, "snapshot"),
          await command(key, { command: "snapshot", args: { cameraId: "cam-1" } }),
          { timeout: 3000 },
        )).data,
      );
      return r.ok && r.value.status === "ok" ? r.value : undefined;
    },
    5000,
    "snapshot",
  );
  const os = await new Objm(nc).open("snapshots_local");
  const jpeg = await os.getBlob(String(reply.result.name));
  assert.ok(jpeg && jpeg[0] === 0xff && jpeg[1] === 0xd8, "a JPEG is in the object store");
});

Deno.test("agent fails over to the other server in its list when its server dies", async () => {
  await using a = await startTestNats();
  await using b = await startTestNats({ sameAccountsAs: a });
  await using agent = await Agent.start(
    await testAgentConfig(a, { nats: { servers: [a.url, b.url] } }),
    quiet,
  );
  await eventually(() => (agent.connected ? true : undefined), 5000, "connected");
  // The client picks a server at random: find which one, stop it, and watch the other.
  const servers = [a, b];
  const current = await eventually(
    async () => {
      for (const s of servers) {
        await using probe = await s.connect("probe");
        const sub = probe.subscribe(filters.heartbeats({ deviceId: "m001-a" }), {
          max: 1,
          timeout: 1000,
        });
        try {
          for await (const _ of sub) return s;
        } catch { /* no beat on this one */ }
      }
      return undefined;
    },
    10_000,
    "the server the agent uses",
  );
  const other = current === a ? b : a;
  await using watch = await other.connect("watch");
  const beats = watch.subscribe(filters.heartbeats({ deviceId: "m001-a" }), {
    max: 1,
    timeout: 15_000,
  });
  await watch.flush();
  await current.server.stop();
  for await (const m of beats) assert.ok(parseHeartbeat(m.data).ok);
  assert.ok(agent.connected);
});

Deno.test("agent collects its recent logs, restarts its pipeline and reports diagnostics on command", async () => {
  await using nats = await startTestNats();
  await using nc = await nats.connect();
  const key = await nats.commandKey();
  await using agent = await Agent.start(await testAgentConfig(nats), quiet);
  await eventually(() => (agent.connected ? true : undefined), 5000, "connected");
  const ask = async (body: Pick<CommandRequest, "command" | "args">) => {
    const r = parseCommandReply(
      (await nc.request(subjects.command(dev, body.command), await command(key, body), {
        timeout: 3000,
      }))
        .data,
    );
    assert.ok(r.ok && r.value.status === "ok", JSON.stringify(r));
    return r.value.result;
  };
  // Connected comes a moment before the command subscription: retry until it answers.
  const logs = await eventually(
    () => ask({ command: "collect_logs", args: { lines: 5, since: null } }).catch(() => undefined),
    5000,
    "commands answered",
  );
  assert.ok(
    Array.isArray(logs.lines) && logs.lines.some((l) => String(l).includes("connected to NATS")),
  );
  assert.deepEqual(await ask({ command: "restart_pipeline", args: {} }), { restarted: true });
  const diag = await ask({ command: "diagnostics", args: {} });
  assert.equal(diag.connected, true);
  assert.deepEqual(diag.outbox, { depth: 0, bytes: 0, capacityBytes: 256 * 1024 * 1024 });
  const bad = parseCommandReply(
    (await nc.request(
      subjects.command(dev, "set_config"),
      await command(key, { command: "set_config", args: { config: { heartbeatIntervalMs: 5 } } }),
      { timeout: 3000 },
    )).data,
  );
  assert.ok(
    bad.ok && bad.value.status === "error" &&
      /heartbeatIntervalMs: must be an integer 100-600000/.test(bad.value.error.message),
  );
});

Deno.test("a secondary follows its primary's door sessions", async () => {
  await using nats = await startTestNats();
  await using nc = await nats.connect();
  await ensureStreams(nc, "local");
  const hw = new SimulatedHardware();
  await using primary = await Agent.start(await testAgentConfig(nats), {
    ...quiet,
    hardware: hw,
  });
  await using secondary = await Agent.start(
    await testAgentConfig(nats, {
      deviceId: "m001-b",
      role: "secondary",
      primaryDeviceId: "m001-a",
    }),
    quiet,
  );
  await eventually(
    () => (primary.connected && secondary.connected ? true : undefined),
    5000,
    "both connected",
  );
  await new Promise((r) => setTimeout(r, 300)); // the secondary's subscription is in place
  hw.setDoor("open");
  const beats = nc.subscribe(filters.heartbeats({ deviceId: "m001-b" }), { timeout: 5000 });
  const deadline = Date.now() + 5000;
  let door = "unknown";
  for await (const m of beats) {
    const hb = parseHeartbeat(m.data);
    if (hb.ok) door = hb.value.door;
    if (door === "open" || Date.now() > deadline) break;
  }
  assert.equal(door, "open", "the secondary reports the primary's open door");
  hw.setDoor("closed");
});

Deno.test("a simulated secondary films its primary's scenario through a door session", async () => {
  await using nats = await startTestNats();
  await using nc = await nats.connect();
  await ensureStreams(nc, "local");
  const hw = new SimulatedHardware();
  const primaryScene = new SimulatedScene({ machineId: "m001", seed: 1000 });
  // Another seed: the secondary's cameras can only match the primary's if it follows them.
  const secondaryScene = new SimulatedScene({ machineId: "m001", seed: 2000 });
  const primaryConfig = await testAgentConfig(nats);
  const secondaryConfig = await testAgentConfig(nats, {
    deviceId: "m001-b",
    role: "secondary",
    primaryDeviceId: "m001-a",
  });
  await using primary = await Agent.start(primaryConfig, {
    ...quiet,
    hardware: hw,
    scene: primaryScene,
  });
  await using secondary = await Agent.start(secondaryConfig, { ...quiet, scene: secondaryScene });
  const link = { servers: [nats.url], caFile: nats.caFile, region: "local" };
  await using _a = await linkScene(primaryScene, {
    ...link,
    role: "primary",
    deviceId: "m001-a",
    credentialsFile: primaryConfig.nats.credentialsFile!,
  });
  await using _b = await linkScene(secondaryScene, {
    ...link,
    role: "secondary",
    deviceId: "m001-b",
    primaryDeviceId: "m001-a",
    credentialsFile: secondaryConfig.nats.credentialsFile!,
  });
  await eventually(
    () => (primary.connected && secondary.connected ? true : undefined),
    5000,
    "both connected",
  );
  // The secondary's door, as its heartbeats report it.
  let door = "unknown";
  const heartbeats = nc.subscribe(filters.heartbeats({ deviceId: "m001-b" }), {
    callback: (_e, m) => {
      const hb = parseHeartbeat(m.data);
      if (hb.ok) door = hb.value.door;
    },
  });
  const doorIs = (state: string) =>
    eventually(() => (door === state ? true : undefined), 5000, `the secondary's door ${state}`);
  for (let session = 0; session < 2; session++) {
    // What the simulated shopper does: a new scenario, then the door opens.
    primaryScene.startSession(0);
    await eventually(
      () => (secondaryScene.current.startedAt === primaryScene.current.startedAt
        ? true
        : undefined),
      5000,
      "the secondary follows the new scenario",
    );
    hw.setDoor("open");
    // The secondary learns of the opening from the primary's door_opened event.
    await doorIs("open");
    assert.deepEqual(
      secondaryScene.current,
      primaryScene.current,
      `session ${session}: the secondary's cameras film another scenario than the primary's`,
    );
    hw.setDoor("closed");
    await doorIs("closed");
  }
  heartbeats.unsubscribe();
});

Deno.test("agent sends a cart under the configured threshold to review, and charges one above it", async () => {
  await using nats = await startTestNats();
  await using nc = await nats.connect();
  await ensureStreams(nc, "local");
  const hardware = new SimulatedHardware();
  const config = await testAgentConfig(nats, { recognition: { threshold: 0.8 } });
  const confidences = [0.85, 0.6];
  await using agent = await Agent.start(config, {
    ...quiet,
    hardware,
    cartDecider: {
      decide: () =>
        Promise.resolve({
          cart: [{ sku: "COLA-330", qty: 1 }],
          confidence: confidences.shift() ?? 0,
          reviewReasons: [],
          modelVersion: "test",
        }),
    },
  });
  await eventually(() => (agent.connected ? true : undefined), 5000, "connected");
  for (let i = 0; i < 2; i++) {
    hardware.setDoor("open");
    await new Promise((r) => setTimeout(r, 100));
    hardware.setDoor("closed");
    await new Promise((r) => setTimeout(r, 300));
  }
  const done = await eventually(
    async () => {
      const e = (await streamEvents(nc, "m001-a")).filter((x) => x.type === "session_completed");
      return e.length >= 2 ? e : undefined;
    },
    5000,
    "2 sessions completed",
  );
  const reviews = done.map((e) => e.type === "session_completed" ? e.review : undefined);
  assert.deepEqual(reviews, [
    { required: false, reasons: [] },
    { required: true, reasons: ["confidence 0.60 below 0.80"] },
  ]);
});

/** A log sink that keeps the agent's lines. */
function logSink(): {
  lines: Array<Record<string, unknown>>;
  log: (l: Record<string, unknown>) => void;
} {
  const lines: Array<Record<string, unknown>> = [];
  return { lines, log: (l) => void lines.push(l) };
}

/** Simulated hardware whose status LED driver has gone away. */
class BrokenLedHardware extends SimulatedHardware {
  override readonly led = {
    set: () => Promise.reject(new Error("LED driver gone")),
    color: "off" as const,
  };
}

Deno.test("agent logs and counts a status LED that fails, and runs on", async () => {
  await using nats = await startTestNats();
  await using nc = await nats.connect();
  await ensureStreams(nc, "local");
  const sink = logSink();
  await using agent = await Agent.start(await testAgentConfig(nats), {
    hardware: new BrokenLedHardware(),
    log: sink.log,
  });
  // Amber at the start, green once connected: each failure said and counted.
  const failed = await eventually(
    () => {
      const l = sink.lines.filter((l) => l.msg === "status LED failed");
      return l.length >= 2 ? l : undefined;
    },
    5000,
    "both LED failures logged",
  );
  assert.deepEqual(failed.map((l) => [l.level, l.color, l.error]), [
    ["warn", "amber", "Error: LED driver gone"],
    ["warn", "green", "Error: LED driver gone"],
  ]);
  assert.equal(agent.metrics.snapshot().find((m) => m.name === "agent")?.errors, 2);
  assert.ok(agent.connected);
});

/** A scene whose camera fails at once (a sensor unplugged). */
class UnpluggedScene extends SimulatedScene {
  override camera(): ReadableStream<Frame> {
    return new ReadableStream<Frame>({
      start: (c) => c.error(new Error("sensor unplugged")),
    });
  }
}

Deno.test("agent logs and counts a camera stream that fails", async () => {
  await using nats = await startTestNats();
  await using nc = await nats.connect();
  await ensureStreams(nc, "local");
  const sink = logSink();
  const config = await testAgentConfig(nats, { cameras: [SMALL_CAMERA] });
  await using agent = await Agent.start(config, {
    scene: new UnpluggedScene(),
    cartDecider: { decide: () => Promise.reject(new Error("no sessions here")) },
    log: sink.log,
  });
  const line = await eventually(
    () => sink.lines.find((l) => l.msg === "camera stream failed"),
    5000,
    "the camera failure logged",
  );
  assert.equal(line.level, "error");
  assert.equal(line.cameraId, "cam-1");
  assert.equal(line.error, "Error: sensor unplugged");
  assert.equal(agent.metrics.snapshot().find((m) => m.name === "camera_cam-1")?.errors, 1);
  // What the camera fed goes down with it, said too (not silently).
  await eventually(
    () => sink.lines.find((l) => l.msg === "frame sync input failed"),
    5000,
    "the frame sync failure logged",
  );
});
