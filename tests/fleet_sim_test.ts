import assert from "node:assert/strict";
import { startCloudService } from "../cloud/mod.ts";
import type { Logger } from "../runtime/mod.ts";
import { runSimulator } from "../cli/sim.ts";
import { eventually } from "./edge_harness.ts";
import { startTestNats } from "./harness.ts";

const quiet: Logger = { log: () => {} };

Deno.test("the fleet simulator's devices show up online in the API, answer commands, and go offline when silent", async () => {
  await using nats = await startTestNats();
  await using svc = await startCloudService(nats, { logger: quiet, offlineAfterMs: 1500 });
  const token = await svc.tokens.issue({ subject: "op", role: "operator" });
  const stop = new AbortController();
  let beats = 0;
  const running = runSimulator({
    url: nats.url,
    credentialsFile: await nats.simulatorCredentials(),
    caFile: nats.caFile,
  }, {
    commandKeys: [(await nats.commandKey()).trusted],
    onBeat: () => void beats++,
    devices: 200,
    intervalMs: 500,
    offline: 20,
    signal: stop.signal,
    connections: 2,
  });
  const get = async (path: string) =>
    (await fetch(`${svc.url}${path}`, { headers: { authorization: `Bearer ${token}` } })).json();
  await eventually(
    async () => ((await get("/devices?status=online&limit=1")).total === 180 ? true : undefined),
    10_000,
    "180 online",
  );
  const sent = await (await fetch(`${svc.url}/devices/sim-42-a/commands`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ command: "diagnostics", args: {} }),
  })).json();
  const done = await eventually(
    async () => {
      const c = await get(`/commands/${sent.id}`);
      return c.status !== "sent" ? c : undefined;
    },
    5000,
    "command answered",
  );
  assert.equal(done.status, "succeeded", JSON.stringify(done.error));
  assert.deepEqual(done.result, { simulated: true });
  // More than one round of heartbeats before stopping (a loaded machine may take a while).
  await eventually(() => (beats > 180 ? true : undefined), 10_000, "a second round of heartbeats");
  stop.abort();
  const counts = await running;
  assert.ok(
    counts.heartbeats > 180 && counts.telemetry > 0 && counts.commands === 1,
    JSON.stringify(counts),
  );
  await eventually(
    async () => ((await get("/devices?status=offline&limit=1")).total === 180 ? true : undefined),
    10_000,
    "all offline",
  );
});

Deno.test("the fleet simulator's silent devices beat until silenceAfterMs, then go offline while the rest stay online", async () => {
  await using nats = await startTestNats();
  await using svc = await startCloudService(nats, { logger: quiet, offlineAfterMs: 1500 });
  const token = await svc.tokens.issue({ subject: "op", role: "viewer" });
  const stop = new AbortController();
  const running = runSimulator({
    url: nats.url,
    credentialsFile: await nats.simulatorCredentials(),
    caFile: nats.caFile,
  }, {
    commandKeys: [(await nats.commandKey()).trusted],
    devices: 10,
    intervalMs: 250,
    offline: 4,
    silenceAfterMs: 2000,
    signal: stop.signal,
    connections: 1,
  });
  const total = async (status: string) =>
    (await (await fetch(`${svc.url}/devices?status=${status}&limit=1`, {
      headers: { authorization: `Bearer ${token}` },
    })).json()).total;
  // All ten are heard first (the four silent ones too)...
  await eventually(
    async () => ((await total("online")) === 10 ? true : undefined),
    5000,
    "10 online",
  );
  // ...then the four fall silent and go offline; the six others stay online.
  await eventually(
    async () => ((await total("offline")) === 4 ? true : undefined),
    10_000,
    "4 offline",
  );
  assert.equal(await total("online"), 6);
  stop.abort();
  await running;
});
