/**
 * `./vend bench edge`: the device program on this machine, run from its x86_64 firmware bundle
 * against a local nats-server:
 *
 * - cold start: from spawning the program to its first heartbeat seen on NATS, and to its first
 *   frame set processed (primary with 2 synthetic cameras at 640x480, 15 fps, plus cam-3 from a
 *   secondary agent process);
 * - RSS idle (no cameras) and loaded (3 cameras captured and synced at 640x480, 15 fps);
 * - outbox throughput: events/s durably written (SQLite WAL, fsync per event);
 * - backlog: 10,000 events stored while offline, delivered to JetStream once connected.
 *
 * Progress goes to stderr; the last line of stdout is one JSON object.
 *
 * @example
 * ```sh
 * ./vend bench edge
 * ```
 *
 * @module
 */
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { buildEdge } from "../cli/build_edge.ts";
import { Kvm } from "@nats-io/kv";
import { connectNats } from "../cloud/mod.ts";
import { ensureStreams } from "../cloud/nats/mod.ts";
import { loadCommandKey } from "../cloud/provisioning/mod.ts";
import { startLocalNats } from "../cloud/dev/mod.ts";
import { Outbox } from "../edge/delivery/mod.ts";
import {
  buckets,
  filters,
  newEnvelope,
  parseCommandReply,
  pipelineEvent,
  signCommand,
  streamName,
  subjects,
} from "../protocol/mod.ts";
import { machine, peakRssMb } from "./_machine.ts";
import { sleep, writePrivateFile } from "../runtime/mod.ts";

const log = (s: string) => console.error(s);
const work = await Deno.makeTempDir({ prefix: "vend-bench-edge-" });
const nats = await startLocalNats({ dataDir: `${work}/nats` });
const nc = await connectNats(nats, { name: "bench" });
await ensureStreams(nc, "local");
// Devices pin the cloud's command key and connect with their own credentials, as in the field.
const commandKey = await loadCommandKey(await new Kvm(nc).create(buckets.service, { history: 1 }));
const build = await buildEdge("x86_64", `${work}/dist`);
log(`built ${build.kind} ${build.executable}`);

interface Run {
  child: Deno.ChildProcess;
  spawnedAt: number;
}

async function spawnDevice(
  deviceId: string,
  role: "primary" | "secondary",
  cameras: string[],
  extra: string[] = [],
): Promise<Run> {
  const dataDir = `${work}/${deviceId}`;
  await Deno.mkdir(dataDir, { recursive: true });
  const credentialsFile = `${dataDir}/device.creds`;
  const issued = await nats.accounts!.deviceCredentials({
    region: "local",
    deviceId,
    peers: [deviceId === "m001-a" ? "m001-b" : "m001-a"],
  });
  await writePrivateFile(credentialsFile, issued.creds!);
  await Deno.writeTextFile(
    `${dataDir}/agent.json`,
    JSON.stringify({
      deviceId,
      machineId: "m001",
      role,
      ...(role === "secondary" ? { primaryDeviceId: "m001-a" } : {}),
      nats: { servers: [nats.url], credentialsFile, caFile: nats.caFile },
      dataDir,
      commands: { trustedKeys: [commandKey.trusted] },
      heartbeatIntervalMs: 1000,
      cameras: cameras.map((cameraId) => ({
        cameraId,
        source: { kind: "synthetic" },
        width: 640,
        height: 480,
        fps: 15,
      })),
    }),
  );
  const spawnedAt = Date.now();
  const child = new Deno.Command(build.executable, {
    args: ["--config", `${dataDir}/agent.json`, "--simulate", ...extra],
    stdout: "null",
    stderr: "null",
  }).spawn();
  return { child, spawnedAt };
}

async function diagnostics(deviceId: string): Promise<Record<string, unknown>> {
  const req = await signCommand({
    ...newEnvelope(),
    deviceId,
    issuer: "bench",
    expiresAt: Date.now() + 5000,
    command: "diagnostics",
    args: {},
  }, commandKey);
  const reply = parseCommandReply(
    (await nc.request(subjects.command({ region: "local", deviceId }, "diagnostics"), req, {
      timeout: 5000,
    })).data,
  );
  if (!reply.ok || reply.value.status !== "ok") {
    throw new Error(`diagnostics of ${deviceId} failed`);
  }
  return reply.value.result as Record<string, unknown>;
}

async function stopDevice(run: Run): Promise<void> {
  run.child.kill("SIGTERM");
  await run.child.status;
}

// Idle: no cameras.
const idleBeat = nc.subscribe(filters.heartbeats({ deviceId: "m009-a" }), { max: 1 });
await nc.flush();
const idle = await spawnDevice("m009-a", "primary", []);
for await (const _ of idleBeat) { /* first beat */ }
const idleHeartbeatMs = Date.now() - idle.spawnedAt;
await sleep(5000);
const idleRss = Number(((await diagnostics("m009-a")).system as { rssBytes: number }).rssBytes) /
  2 ** 20;
await stopDevice(idle);
log(`idle: first heartbeat ${idleHeartbeatMs} ms after spawn, RSS ${idleRss.toFixed(0)} MB`);

// Loaded: a primary with cam-1 and cam-2, and a secondary sending cam-3.
const beat = nc.subscribe(filters.heartbeats({ deviceId: "m001-a" }), { max: 1 });
await nc.flush();
const secondary = await spawnDevice("m001-b", "secondary", ["cam-3"]);
const primary = await spawnDevice("m001-a", "primary", ["cam-1", "cam-2"], [
  "--remote-camera",
  "m001-b/cam-3/15",
]);
for await (const _ of beat) { /* first beat */ }
const coldHeartbeatMs = Date.now() - primary.spawnedAt;
let firstFrameAt: number | null = null;
for (let i = 0; i < 100 && firstFrameAt === null; i++) {
  await sleep(200);
  firstFrameAt =
    ((await diagnostics("m001-a")).startup as { firstFrameAt: number | null }).firstFrameAt;
}
const coldFrameMs = firstFrameAt === null ? NaN : Math.round(firstFrameAt - primary.spawnedAt);
await sleep(15_000);
const loaded = await diagnostics("m001-a");
const loadedRss = Number((loaded.system as { rssBytes: number }).rssBytes) / 2 ** 20;
const secondaryRss =
  Number(((await diagnostics("m001-b")).system as { rssBytes: number }).rssBytes) / 2 ** 20;
const syncStage = (loaded.stages as Array<{ name: string; fps: number }>).find((s) =>
  s.name === "frame_sync"
);
await stopDevice(primary);
await stopDevice(secondary);
log(
  `loaded: first heartbeat ${coldHeartbeatMs} ms, first frame set ${coldFrameMs} ms after spawn; RSS primary ${
    loadedRss.toFixed(0)
  } MB, secondary ${secondaryRss.toFixed(0)} MB; frame sets ${syncStage?.fps.toFixed(1)}/s`,
);

// Outbox: durable writes, and a 10,000-event backlog delivered once connected.
const event = (i: number) => {
  const e = {
    ...newEnvelope(),
    deviceId: "m077-a",
    machineId: "m077",
    type: "door_opened" as const,
    sessionId: `sess-${String(i).padStart(8, "0")}`,
  };
  return {
    id: e.id,
    subject: subjects.pipelineEvent({ region: "local", deviceId: "m077-a" }, "door_opened"),
    data: pipelineEvent.encode(e),
  };
};
const outbox = new Outbox(`${work}/outbox.db`);
let t0 = performance.now();
for (let i = 0; i < 3000; i++) outbox.append(event(i));
const outboxEventsS = 3000 / ((performance.now() - t0) / 1000);
for (let i = 3000; i < 10_000; i++) outbox.append(event(i));
log(`outbox: ${outboxEventsS.toFixed(0)} durable appends/s; backlog of ${outbox.stats().depth}`);
const js = jetstream(nc);
const stop = new AbortController();
t0 = performance.now();
const delivering = outbox.deliver({
  publish: async (subject, data, id) => void await js.publish(subject, data, { msgID: id }),
}, { signal: stop.signal });
while (outbox.stats().depth > 0) await sleep(20);
const backlogS = (performance.now() - t0) / 1000;
stop.abort();
await delivering;
outbox.close();
const events = streamName("EVENTS", "local");
const stored = (await (await jetstreamManager(nc)).streams.info(events)).state.messages;
log(`backlog of 10,000 delivered in ${backlogS.toFixed(2)} s (${events} holds ${stored})`);

await nc.close();
await nats.stop();
await Deno.remove(work, { recursive: true });
console.log(JSON.stringify({
  bench: "edge",
  artifact: build.kind,
  cold_start_heartbeat_ms: coldHeartbeatMs,
  cold_start_heartbeat_idle_ms: idleHeartbeatMs,
  cold_start_first_frame_ms: coldFrameMs,
  rss_mb_idle: Math.round(idleRss),
  rss_mb_loaded: Math.round(loadedRss),
  rss_mb_secondary: Math.round(secondaryRss),
  loaded_framesets_s: Number((syncStage?.fps ?? 0).toFixed(2)),
  outbox_events_s: Math.round(outboxEventsS),
  backlog_10k_delivery_s: Number(backlogS.toFixed(2)),
  bench_rss_mb: peakRssMb(),
  machine: machine(),
}));
Deno.exit(0);
