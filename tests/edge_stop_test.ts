/**
 * The device program stops at any point of its life: SIGTERM while it provisions, while it waits
 * for servers that do not answer, during a door session and during an update ends it cleanly
 * (exit code 0) instead of waiting for a server that may never come (a demo stopped during
 * start-up once waited eight minutes for its secondary), and an update cut short leaves nothing
 * half-installed; an agent whose server froze still stops. How fast it stops is measured by
 * these tests' logs, not asserted: a program that does not stop at all fails them by their
 * deadline.
 */
import assert from "node:assert/strict";
import { filters, parseDeploymentEvent, parsePipelineEvent } from "../protocol/mod.ts";
import { Agent } from "../edge/mod.ts";
import { ensureStreams } from "../cloud/nats/mod.ts";
import { ComponentRegistry } from "../cloud/updates/mod.ts";
import {
  desireDeployment,
  eventually,
  testAgentConfig,
  writeAgentConfigFile,
} from "./edge_harness.ts";
import { silentServer, spawnStoppable, startTestNats, type StoppableProgram } from "./harness.ts";

/** Longest wait for the program to end after SIGTERM before the test fails. */
const DEADLINE_MS = 30_000;

/** Runs the device program with `args`. */
function spawnEdge(args: string[]): StoppableProgram {
  return spawnStoppable("edge/main.ts", { args });
}

/** Stops `edge`; how long it took, and the steps of its stop it said were slow. */
async function stopTook(edge: StoppableProgram): Promise<string> {
  const { ms, said } = await edge.terminate();
  const slow = said.filter((l) => l.includes("a step of the stop was slow"));
  return `${ms} ms${slow.length ? `; ${slow.join("; ")}` : ""}`;
}

Deno.test("the device program stops on SIGTERM while it is provisioning against a server that does not answer", async () => {
  using server = silentServer();
  const dir = await Deno.makeTempDir({ prefix: "vend-stop-" });
  try {
    await Deno.writeTextFile(`${dir}/claim.creds`, "not used: the server never asks\n");
    await Deno.writeTextFile(
      `${dir}/agent.json`,
      JSON.stringify({
        nats: { servers: [server.url] },
        dataDir: `${dir}/data`,
        provisioning: {
          batchId: "batch-1",
          serial: "SN-0001",
          claimCredentialsFile: `${dir}/claim.creds`,
        },
      }),
    );
    const edge = spawnEdge(["--config", `${dir}/agent.json`, "--simulate"]);
    await server.reached; // it is claiming
    const took = await stopTook(edge);
    console.log(`stopped after SIGTERM in ${took}, while provisioning`);
    // Nothing half-written: no identity was stored.
    await assert.rejects(Deno.stat(`${dir}/data/identity.json`), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the device program stops on SIGTERM while it waits for servers that do not answer", async () => {
  for (const simulate of [true, false]) {
    using server = silentServer();
    const dir = await Deno.makeTempDir({ prefix: "vend-stop-" });
    try {
      const config = await writeAgentConfigFile(dir, server.url, { cameras: [] });
      const edge = spawnEdge(["--config", config, ...(simulate ? ["--simulate"] : [])]);
      if (!simulate) await edge.printed("ready: m001-a"); // it works offline
      await server.reached; // it is connecting
      const took = await stopTook(edge);
      console.log(`stopped after SIGTERM in ${took}, while connecting (simulate: ${simulate})`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
});

Deno.test("the device program stops on SIGTERM during a door session", async () => {
  await using nats = await startTestNats();
  const dir = await Deno.makeTempDir({ prefix: "vend-stop-" });
  try {
    const config = await writeAgentConfigFile(dir, nats, { heartbeatIntervalMs: 500 });
    await using nc = await nats.connect();
    const events = nc.subscribe(filters.pipelineEvents({ region: "local", deviceId: "m001-a" }));
    await nc.flush();
    const edge = spawnEdge(["--config", config, "--simulate", "--auto-sessions", "1"]);
    await edge.printed("ready: m001-a");
    for await (const m of events) {
      const e = parsePipelineEvent(m.data);
      if (e.ok && e.value.type === "door_opened") break; // the shopper is at the shelves
    }
    const took = await stopTook(edge);
    console.log(`stopped after SIGTERM in ${took}, during a door session`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the device program stops on SIGTERM during an update, leaving nothing half-installed", async () => {
  await using nats = await startTestNats();
  const dir = await Deno.makeTempDir({ prefix: "vend-stop-" });
  try {
    await using nc = await nats.connect();
    await ensureStreams(nc, "local");
    const registry = await ComponentRegistry.open(nc);
    const model = new Uint8Array(48 << 20);
    for (let i = 0; i < model.length; i += 65536) {
      crypto.getRandomValues(model.subarray(i, i + 65536));
    }
    // A model (applied without the supervisor), large and random: its download takes a while.
    await registry.publish({
      component: "detector",
      version: "1.0.0",
      kind: "model",
      platform: { arch: ["x86_64", "aarch64"] },
    }, [{ name: "model.onnx", data: model }]);
    const config = await writeAgentConfigFile(dir, nats, {
      heartbeatIntervalMs: 300,
      recording: { enabled: false },
      ota: { trustedKeys: await registry.trustedKeys() },
    });
    const progress = nc.subscribe(filters.updateProgress({ region: "local" }));
    await nc.flush();
    const edge = spawnEdge(["--config", config]);
    await edge.printed("ready: m001-a");
    await desireDeployment(nc, "m001-a", {
      version: 1,
      deploymentId: "dep-stop-1",
      targets: [{ component: "detector", version: "1.0.0" }],
    });
    let phase = "";
    for await (const m of progress) {
      const e = parseDeploymentEvent(m.data);
      if (!e.ok || e.value.type !== "update_progress") continue;
      phase = e.value.phase;
      if (["downloading", "verifying", "installing"].includes(phase)) break; // under way
      assert.ok(
        !["healthy", "failed", "rolled_back"].includes(phase),
        `the update ended: ${phase}: ${JSON.stringify(e.value)}`,
      );
    }
    const took = await stopTook(edge);
    console.log(`stopped after SIGTERM in ${took}, during an update (${phase})`);
    // Nothing half-installed: the model's folder is there whole (it was renamed into place) or
    // not at all.
    const installed = `${dir}/data/ota/components/detector/1.0.0/model.onnx`;
    const size = await Deno.stat(installed).then((s) => s.size, (e) => {
      if (e instanceof Deno.errors.NotFound) return undefined;
      throw e;
    });
    assert.ok(size === undefined || size === model.length, `${installed} holds ${size} bytes`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an agent stops while its server no longer answers: the connection's drain is cut short", async () => {
  await using nats = await startTestNats();
  const said: Record<string, unknown>[] = [];
  const agent = await Agent.start(await testAgentConfig(nats), { log: (l) => void said.push(l) });
  let stopped = false;
  try {
    await eventually(() => agent.connected || undefined, 20_000, "connected");
    // The server freezes: it holds the socket open and never answers a flush again.
    Deno.kill(nats.server.pid, "SIGSTOP");
    const t0 = performance.now();
    const stopping = agent.stop().then(() => (stopped = true));
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([stopping, new Promise((r) => (timer = setTimeout(r, DEADLINE_MS)))]);
    clearTimeout(timer);
    assert.ok(stopped, `still stopping ${DEADLINE_MS} ms later`);
    console.log(`stopped in ${Math.round(performance.now() - t0)} ms with its server frozen`);
    assert.ok(
      said.some((l) => l.msg === "the NATS connection did not drain"),
      JSON.stringify(said.slice(-5)),
    );
  } finally {
    Deno.kill(nats.server.pid, "SIGCONT");
    if (!stopped) await agent.stop();
  }
});
