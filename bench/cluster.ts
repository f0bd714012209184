/**
 * `./vend bench cluster`: what a local 3-server cluster (one region of the supercluster, with
 * the default decentralized authentication and TLS, generated configurations) carries on this
 * machine:
 *
 * - `connections`: device connections held (each a TLS connection with a device-account user),
 *   spread over the 3 servers, and the servers' memory per connection (from `/varz`);
 * - `heartbeats_s`: heartbeats per second ingested by the cloud's ingest (its worker thread,
 *   writing device statuses to the region's R3 bucket) from the fleet simulator;
 * - `r3_publish_s`: JetStream publishes per second acknowledged by an R3 stream (256 in flight,
 *   each with its de-duplication id);
 * - `failover_s`: how long a device that publishes every 50 ms is not heard when its server
 *   dies (SIGKILL), until a heartbeat comes through another server (median of 3; also max).
 *
 * Prints progress to stderr and one JSON object as the last line of stdout.
 *
 * @example
 * ```sh
 * ./vend bench cluster [--connections 3000]
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { jetstream } from "@nats-io/jetstream";
import { credsAuthenticator, type NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { DEVICE_RECONNECT } from "../edge/delivery/mod.ts";
import { startIngestThread } from "../cloud/fleet/mod.ts";
import { connectNats } from "../cloud/mod.ts";
import { ensureStreams, useRegionLayout } from "../cloud/nats/mod.ts";
import { simulatorPermissions } from "../cloud/provisioning/mod.ts";
import { startLocalSupercluster } from "../cloud/dev/mod.ts";
import { heartbeat, newEnvelope, subjects } from "../protocol/mod.ts";
import { machine, peakRssMb, percentile } from "./_machine.ts";
import { sleep, writePrivateFile } from "../runtime/mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { connections: { type: "string", default: "3000" } },
  strict: true,
});
const CONNECTIONS = Number(values.connections);
if (!Number.isInteger(CONNECTIONS) || CONNECTIONS < 3 || CONNECTIONS > 60_000) {
  console.error(`--connections must be an integer 3-60000, got "${values.connections}"`);
  Deno.exit(2);
}
const log = (m: string) => console.error(`bench cluster: ${m}`);

const beat = (deviceId: string, seq: number) =>
  heartbeat.encode({
    ...newEnvelope(),
    deviceId,
    machineId: deviceId.replace(/-a$/, ""),
    role: "primary",
    seq,
    uptimeMs: seq * 50,
    status: "ok",
    door: "closed",
    appVersion: "0.1.0",
    modelVersion: null,
  });

const work = await Deno.makeTempDir({ prefix: "vend-bench-cluster-" });
await using sc = await startLocalSupercluster({ dataDir: work, regions: ["local"] });
const servers = sc.servers("local");
log(`3 servers up: ${servers.map((s) => `${s.name} ${sc.serverUrl(s.name)}`).join(", ")}`);
const varz = async (name: string) => {
  const s = servers.find((x) => x.name === name)!;
  return await (await fetch(`http://${s.host}:${s.monitorPort}/varz`)).json() as {
    mem: number;
    connections: number;
  };
};

const cloud = await connectNats(sc.target("local"), { name: "bench-cloud" });
const layout = { region: "local", primary: "local", replicas: 3, placement: true };
useRegionLayout(cloud, layout);
await ensureStreams(cloud, "local");

// 1. Connections: device connections (TLS, a device-account user) spread over the servers.
const simCreds = `${work}/simulator.creds`;
await writePrivateFile(
  simCreds,
  (await sc.accounts!.userCredentials("devices", "bench-devices", {
    permissions: simulatorPermissions(),
  })).creds!,
);
const memBefore = await Promise.all(servers.map((s) => varz(s.name)));
const held: NatsConnection[] = [];
const t0 = performance.now();
for (let i = 0; i < CONNECTIONS; i += 50) {
  await Promise.all(Array.from({ length: Math.min(50, CONNECTIONS - i) }, async (_, k) => {
    const s = servers[(i + k) % servers.length]!;
    held.push(
      await connectNats(sc.serverUrl(s.name), {
        name: `bench-dev-${i + k}`,
        credentialsFile: simCreds,
        caFile: sc.caFile!,
        timeoutMs: 30_000,
        reconnect: false,
      }),
    );
  }));
}
const connectSeconds = (performance.now() - t0) / 1000;
await sleep(2000);
const memAfter = await Promise.all(servers.map((s) => varz(s.name)));
const connections = memAfter.reduce((n, v) => n + v.connections, 0);
const perConnKb = memAfter.map((v, i) =>
  (v.mem - memBefore[i]!.mem) / 1024 / Math.max(1, v.connections - memBefore[i]!.connections)
);
log(
  `${connections} connections held (${CONNECTIONS} opened in ${connectSeconds.toFixed(1)} s), ` +
    `server memory per connection ${perConnKb.map((k) => k.toFixed(1)).join(" / ")} KiB`,
);
// Every held connection heartbeats once: they are live.
for (const [i, nc] of held.entries()) {
  nc.publish(
    subjects.heartbeat({ region: "local", deviceId: `held-${i}-a` }),
    beat(`held-${i}-a`, 0),
  );
}
await Promise.all(held.map((nc) => nc.flush()));
await Promise.all(held.map((nc) => nc.close()));

// 2. Heartbeats ingested by the cloud (its ingest worker; statuses in the R3 bucket).
const ingest = await startIngestThread(sc.target("local"), {
  region: "local",
  offlineAfterMs: 60_000,
  layout,
});
const DEVICES = 50_000;
const sim = new Deno.Command(Deno.execPath(), {
  env: { NATS_CREDS: simCreds, NATS_CA: sc.caFile! },
  args: [
    "run",
    "-A",
    "--frozen",
    new URL("../cli/sim.ts", import.meta.url).pathname,
    "--url",
    sc.url("local"),
    "--devices",
    String(DEVICES),
    "--interval-ms",
    "1000",
    "--telemetry-every",
    "0",
    "--connections",
    "6",
  ],
  stdout: "null",
  stderr: "null",
}).spawn();
await sleep(8000); // every device seen once
const hb0 = ingest.counters.heartbeats;
const h0 = performance.now();
await sleep(10_000);
const heartbeatsS = (ingest.counters.heartbeats - hb0) / ((performance.now() - h0) / 1000);
sim.kill("SIGTERM");
await sim.status;
await ingest.stop();
log(`${Math.round(heartbeatsS)} heartbeats/s ingested (${DEVICES} devices offered 1/s each)`);

// 3. JetStream publishes to an R3 stream (EVENTS_LOCAL), 256 in flight.
const js = jetstream(cloud);
const subject = subjects.pipelineEvent({ region: "local", deviceId: "bench-1" }, "door_opened");
const payload = new TextEncoder().encode(JSON.stringify({ pad: "x".repeat(300) }));
let acked = 0;
let seq = 0;
const r0 = performance.now();
const until = r0 + 10_000;
await Promise.all(Array.from({ length: 256 }, async () => {
  while (performance.now() < until) {
    await js.publish(subject, payload, { msgID: `bench-${seq++}` });
    acked++;
  }
}));
const r3PublishS = acked / ((performance.now() - r0) / 1000);
log(`${Math.round(r3PublishS)} R3 publishes/s acknowledged`);

// 4. Failover: a device on one server, a listener on another; the device's server is killed.
const deviceCreds = `${work}/device.creds`;
await writePrivateFile(
  deviceCreds,
  (await sc.accounts!.deviceCredentials({ region: "local", deviceId: "fo-a", peers: [] })).creds!,
);
const failovers: number[] = [];
for (let round = 0; round < 3; round++) {
  const victim = servers[round % servers.length]!;
  const other = servers[(round + 1) % servers.length]!;
  // As the agent connects (its reconnect options), the server to kill first.
  const device = await connect({
    ...DEVICE_RECONNECT,
    servers: [victim, ...servers.filter((s) => s !== victim)].map((s) => sc.serverUrl(s.name)),
    noRandomize: true,
    name: "fo-a",
    inboxPrefix: "_INBOX_dev.fo-a",
    authenticator: credsAuthenticator(Deno.readFileSync(deviceCreds)),
    tls: { caFile: sc.caFile! },
  });
  const listener = await connectNats({ ...sc.target(), url: sc.serverUrl(other.name) }, {
    name: "bench-listener",
  });
  let lastHeard = 0;
  let gap = 0;
  let killedAt = Infinity;
  const sub = listener.subscribe(subjects.heartbeat({ region: "local", deviceId: "fo-a" }), {
    callback: () => {
      const now = performance.now();
      if (now > killedAt && gap === 0) gap = now - killedAt;
      lastHeard = now;
    },
  });
  await listener.flush();
  let n = 0;
  const timer = setInterval(() => device.publish(sub.getSubject(), beat("fo-a", n++)), 50);
  while (lastHeard === 0) await sleep(20);
  if (device.getServer() !== `${victim.host}:${victim.clientPort}`) {
    log(`round ${round}: the device is on ${device.getServer()}, not ${victim.name}`);
  }
  killedAt = performance.now();
  await sc.kill(victim.name);
  while (gap === 0 && performance.now() - killedAt < 30_000) await sleep(10);
  clearInterval(timer);
  failovers.push(gap / 1000);
  log(`round ${round}: heard again ${(gap / 1000).toFixed(2)} s after ${victim.name} died`);
  await device.close();
  await listener.close();
  await sc.start(victim.name);
  await sc.waitForJetStream("local");
}

await cloud.close();
await sc.stop();
await Deno.remove(work, { recursive: true }).catch(() => {});
console.log(JSON.stringify({
  bench: "cluster",
  servers: 3,
  connections,
  connect_s: Number(connectSeconds.toFixed(1)),
  server_kib_per_connection: Number(percentile(perConnKb, 50).toFixed(1)),
  heartbeats_s: Math.round(heartbeatsS),
  r3_publish_s: Math.round(r3PublishS),
  failover_s: Number(percentile(failovers, 50).toFixed(2)),
  failover_max_s: Number(Math.max(...failovers).toFixed(2)),
  peak_rss_mb: peakRssMb(),
  machine: machine(),
}));
