import assert from "node:assert/strict";
import { Agent } from "../edge/mod.ts";
import { SimulatedHardware } from "../edge/sim/mod.ts";
import {
  assertSessionsInOrder,
  eventually,
  streamEvents,
  testAgentConfig,
} from "./edge_harness.ts";
import { lines, ROOT, startTestNats } from "./harness.ts";
import { connectNats, type NatsTarget } from "../cloud/mod.ts";

const quiet = { log: () => {} };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const decider = {
  decide: () =>
    Promise.resolve({
      cart: [{ sku: "CHIPS-50", qty: 1 }],
      confidence: 0.95,
      reviewReasons: [],
      modelVersion: "test",
    }),
};

async function session(hw: SimulatedHardware) {
  hw.setDoor("open");
  await sleep(50);
  hw.setDoor("closed");
  await sleep(50);
}

async function checkStream(nats: NatsTarget, sessions: number): Promise<string[]> {
  const nc = await connectNats(nats);
  try {
    const events = await eventually(
      async () => {
        const e = await streamEvents(nc, "m001-a");
        return e.length >= sessions * 3 ? e : undefined;
      },
      15_000,
      `${sessions * 3} events`,
    );
    assert.equal(events.length, sessions * 3, "no extra events");
    return assertSessionsInOrder(events);
  } finally {
    await nc.close();
  }
}

/** A restartable server with the region's streams, and a connected in-process agent on simulated hardware. */
async function agentWithNats() {
  const nats = await startTestNats();
  const hw = new SimulatedHardware();
  const agent = await Agent.start(await testAgentConfig(nats), {
    ...quiet,
    hardware: hw,
    cartDecider: decider,
  });
  await eventually(() => (agent.connected ? true : undefined), 5000, "connected");
  return {
    nats,
    hw,
    agent,
    async [Symbol.asyncDispose]() {
      await agent.stop();
      await nats[Symbol.asyncDispose]();
    },
  };
}

Deno.test("agent loses nothing when NATS is killed and restarted in the middle of a session", async () => {
  await using env = await agentWithNats();
  const { nats, hw, agent } = env;
  hw.setDoor("open");
  const probe = await connectNats(nats);
  await eventually(
    async () => ((await streamEvents(probe, "m001-a")).length === 1 ? true : undefined),
    5000,
    "door_opened delivered",
  );
  await probe.close();
  await nats.stop(); // killed mid-session
  hw.setDoor("closed");
  await session(hw); // a whole second session while the server is down
  assert.equal(agent.outbox.stats().depth, 5, "held in the outbox while offline");
  await nats.start();
  await eventually(
    () => (agent.outbox.stats().depth === 0 ? true : undefined),
    15_000,
    "outbox drained",
  );
  const sessions = await checkStream(nats, 2);
  assert.equal(new Set(sessions).size, 2);
});

Deno.test("agent delivers a minute's backlog in order once the server comes back after 60 s", async () => {
  await using env = await agentWithNats();
  const { nats, hw, agent } = env;
  await nats.stop();
  const outageStart = Date.now();
  for (let i = 0; i < 6; i++) {
    await session(hw);
    await sleep(9_000);
  }
  assert.ok(!agent.connected);
  await sleep(Math.max(0, 60_000 - (Date.now() - outageStart)));
  await nats.start();
  const back = Date.now();
  await eventually(
    () => (agent.outbox.stats().depth === 0 ? true : undefined),
    20_000,
    "outbox drained",
  );
  assert.ok(
    Date.now() - back < 15_000,
    `backlog took ${Date.now() - back} ms after the server returned`,
  );
  await checkStream(nats, 6);
});

/** Runs the agent program as its own process, with the simulated shopper unlocking by itself. */
function spawnAgent(configFile: string, fault?: string) {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--frozen",
      `${ROOT}edge/main.ts`,
      "--config",
      configFile,
      "--simulate",
      "--auto-sessions",
      "1",
    ],
    env: fault ? { VEND_FAULT: fault } : {},
    stdout: "piped",
    stderr: "null",
  }).spawn();
}

Deno.test("agent killed with SIGKILL after writing the outbox, during recovery, and after publishing, still delivers every event exactly once in order", async () => {
  await using nats = await startTestNats();
  const config = await testAgentConfig(nats);
  const configFile = `${config.dataDir}/agent.json`;
  await Deno.writeTextFile(configFile, JSON.stringify(config));

  // 1. Dies right after storing its first event (door_opened), before publishing it.
  let child = spawnAgent(configFile, "after_outbox_write:1");
  let status = await child.status;
  assert.equal(status.signal, "SIGKILL");
  // 1b. Dies while recovering: right after writing the recovered session_completed (its third
  // write), before marking the session complete, so the next start writes it again (same id).
  child = spawnAgent(configFile, "after_outbox_write:3");
  status = await child.status;
  assert.equal(status.signal, "SIGKILL");
  // 2. Dies right after its second acknowledged publish, before removing what was published.
  child = spawnAgent(configFile, "after_publish:2");
  status = await child.status;
  assert.equal(status.signal, "SIGKILL");
  // 3. Runs normally until two more sessions are complete.
  child = spawnAgent(configFile);
  for await (const line of lines(child.stdout)) if (line.startsWith("ready:")) break;
  const nc = await connectNats(nats);
  await eventually(
    async () => {
      const e = await streamEvents(nc, "m001-a");
      return e.filter((x) => x.type === "session_completed").length >= 3 && e.length % 3 === 0
        ? true
        : undefined;
    },
    30_000,
    "three completed sessions",
  );
  child.kill("SIGTERM");
  await child.status;
  const events = await streamEvents(nc, "m001-a");
  await nc.close();
  const sessions = assertSessionsInOrder(events);
  assert.ok(sessions.length >= 3);
  const first = events[2]!;
  assert.ok(
    first.type === "session_completed" && first.review.required,
    "the interrupted session goes to review",
  );
  assert.match(
    first.type === "session_completed" ? first.review.reasons[0]! : "",
    /restarted during this session/,
  );
  await Deno.remove(config.dataDir, { recursive: true });
});
