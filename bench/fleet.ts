/**
 * `./vend bench fleet`: fleet ingest and API under load on this machine. A simulator process
 * runs `--devices` devices (default 100,000) heartbeating every `--interval-ms` (default 1.5 s) through one local
 * nats-server into one cloud instance (a separate process); 1,000 of them fall silent and go
 * offline. Measured: heartbeats/s the instance ingests, p99 lag from a new device's first
 * heartbeat to its online status being visible through the API, and p50/p99 latency of
 * `GET /devices?status=offline&limit=100` under that load; the dashboard's fleet page with the
 * whole fleet (p50/p99, size) and its live stream (updates/s, largest update); then the same with
 * two instances sharing the work through a queue group.
 *
 * Progress goes to stderr; the last line of stdout is one JSON object.
 *
 * @example
 * ```sh
 * ./vend bench fleet --devices 100000
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { Kvm } from "@nats-io/kv";
import { connectNats, TokenService } from "../cloud/mod.ts";
import { loadCommandKey, simulatorPermissions } from "../cloud/provisioning/mod.ts";
import { startLocalNats } from "../cloud/dev/mod.ts";
import { buckets, heartbeat, newEnvelope, subjects } from "../protocol/mod.ts";
import { machine, percentile } from "./_machine.ts";
import { sleep, writePrivateFile } from "../runtime/mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    devices: { type: "string", default: "100000" },
    seconds: { type: "string", default: "20" },
    "interval-ms": { type: "string", default: "1500" },
  },
});
const DEVICES = Number(values.devices);
const INTERVAL_MS = Number(values["interval-ms"]);
const WINDOW_S = Number(values.seconds);
const ROOT = new URL("../", import.meta.url).pathname;
const log = (s: string) => console.error(s);

const work = await Deno.makeTempDir({ prefix: "vend-bench-fleet-" });
const nats = await startLocalNats({ dataDir: work });
const nc = await connectNats(nats, { name: "bench-fleet" });

function spawnCloud(port: number): { child: Deno.ChildProcess; url: Promise<string> } {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--frozen", `${ROOT}cli/cloud.ts`],
    env: {
      NATS_URL: nats.url,
      NATS_CREDS: nats.credentialsFile!,
      NATS_CA: nats.caFile!,
      VEND_API_PORT: String(port),
      VEND_OFFLINE_AFTER_MS: "10000",
    },
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const url = (async () => {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error("cloud exited");
      buf += value;
      const m = /api: (\S+)/.exec(buf);
      if (m) {
        (async () => {
          while (!(await reader.read()).done) { /* drain */ }
        })();
        return m[1]!;
      }
    }
  })();
  return { child, url };
}

async function ingested(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/vend_ingest_heartbeats_total (\d+)/.exec(text)?.[1] ?? "0");
}

/**
 * The dashboard with the whole fleet: the fleet page (aggregated and paged on the server) 20
 * times, then its live stream for 10 s while every device heartbeats: updates per second (at
 * most 2 by design) and the size of the largest (only the rows on screen).
 */
async function dashboard(url: string, token: string) {
  const headers = { cookie: `vs_session=${token}`, accept: "text/html" };
  const pageMs: number[] = [];
  let pageBytes = 0;
  for (let i = 0; i < 20; i++) {
    const s = performance.now();
    const r = await fetch(`${url}/?sort=lastSeen&page=${i * 7}`, { headers });
    const body = await r.text();
    if (!r.ok) throw new Error(`GET / answered ${r.status}`);
    pageMs.push(performance.now() - s);
    pageBytes = Math.max(pageBytes, body.length);
  }
  const abort = new AbortController();
  const res = await fetch(`${url}/live/?sort=lastSeen`, { headers, signal: abort.signal });
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  const t0 = performance.now();
  let updates = 0;
  let updateBytesMax = 0;
  let buffer = "";
  const stop = setTimeout(() => abort.abort(), 10_000);
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (event.startsWith("data:")) {
          updates++;
          updateBytesMax = Math.max(updateBytesMax, event.length);
        }
      }
    }
  } catch { /* aborted after 10 s */ }
  clearTimeout(stop);
  return {
    pageP50: percentile(pageMs, 50),
    pageP99: percentile(pageMs, 99),
    pageBytes,
    updatesPerS: updates / ((performance.now() - t0) / 1000),
    updateBytesMax,
  };
}

async function phase(instances: string[], token: string, label: string) {
  // Ingest rate over the window.
  const before = await Promise.all(instances.map(ingested));
  const t0 = performance.now();
  // API latency under load, and first-heartbeat-to-visible lag of fresh probe devices.
  const apiMs: number[] = [];
  const lagMs: number[] = [];
  let probe = 0;
  const deadline = Date.now() + WINDOW_S * 1000;
  while (Date.now() < deadline) {
    const s = performance.now();
    const r = await fetch(
      `${instances[apiMs.length % instances.length]}/devices?status=offline&limit=100`,
      { headers: { authorization: `Bearer ${token}` } },
    );
    await r.arrayBuffer();
    apiMs.push(performance.now() - s);
    if (apiMs.length % 5 === 0) {
      const id = `probe-${label}-${probe++}-a`;
      const published = Date.now();
      nc.publish(
        subjects.heartbeat({ region: "local", deviceId: id }),
        heartbeat.encode({
          ...newEnvelope(),
          deviceId: id,
          machineId: `probe-${label}-${probe}`,
          role: "primary",
          seq: 0,
          uptimeMs: 0,
          status: "ok",
          door: "closed",
          appVersion: "0.1.0",
          modelVersion: null,
        }),
      );
      for (let i = 0; i < 500; i++) {
        const v = await (await fetch(`${instances[0]}/devices/${id}`, {
          headers: { authorization: `Bearer ${token}` },
        })).json();
        if (v?.status?.status === "online") {
          lagMs.push(Date.now() - published);
          break;
        }
        await sleep(10);
      }
    }
    await sleep(20);
  }
  const after = await Promise.all(instances.map(ingested));
  const seconds = (performance.now() - t0) / 1000;
  const rate = after.reduce((a, b) => a + b, 0) - before.reduce((a, b) => a + b, 0);
  const offline = (await (await fetch(`${instances[0]}/devices?status=offline&limit=1`, {
    headers: { authorization: `Bearer ${token}` },
  })).json()).total;
  return {
    ingest: rate / seconds,
    lagP99: percentile(lagMs, 99),
    lagP50: percentile(lagMs, 50),
    apiP50: percentile(apiMs, 50),
    apiP99: percentile(apiMs, 99),
    probes: lagMs.length,
    offline,
  };
}

const one = spawnCloud(0);
const url1 = await one.url;
log(`cloud 1 at ${url1}`);
// A token signed with the fleet's shared key (kept in the service bucket).
const tokens = await TokenService.open(await new Kvm(nc).create(buckets.service, { history: 1 }));
const token = await tokens.issue({ subject: "bench", role: "viewer" });

// The simulator plays every device on a few connections: its own credentials allow any device's
// heartbeats and telemetry (never issued to a real device).
const simCreds = `${work}/simulator.creds`;
await writePrivateFile(
  simCreds,
  (await nats.accounts!.userCredentials("devices", "fleet-simulator", {
    permissions: simulatorPermissions(),
  })).creds!,
);
const commandKey = (await loadCommandKey(await new Kvm(nc).create(buckets.service))).trusted;
const sim = new Deno.Command(Deno.execPath(), {
  env: { NATS_CREDS: simCreds, NATS_CA: nats.caFile! },
  args: [
    "run",
    "-A",
    "--frozen",
    `${ROOT}cli/sim.ts`,
    "--command-key",
    `${commandKey.keyId}:${commandKey.publicKey}`,
    "--url",
    nats.url,
    "--devices",
    String(DEVICES),
    "--interval-ms",
    String(INTERVAL_MS),
    "--telemetry-every",
    "0",
    "--offline",
    "1000",
    "--silence-after-ms",
    "5000",
  ],
  stdout: "piped",
  stderr: "null",
}).spawn();
const simOut = new Response(sim.stdout).text();
const simStarted = performance.now();
log(
  `simulator: ${DEVICES} devices every ${INTERVAL_MS} ms (${
    Math.round((DEVICES * 1000) / INTERVAL_MS)
  } heartbeats/s offered)`,
);
await sleep(20_000); // every device seen at least once; the silent 1,000 past the 10 s offline timeout
const single = await phase([url1], token, "one");
log(
  `1 instance: ${Math.round(single.ingest)} heartbeats/s, lag p99 ${single.lagP99} ms, API p50 ${
    single.apiP50.toFixed(1)
  } / p99 ${single.apiP99.toFixed(1)} ms, offline ${single.offline}`,
);

const board = await dashboard(url1, token);
log(
  `dashboard: fleet page p50 ${board.pageP50.toFixed(1)} / p99 ${
    board.pageP99.toFixed(1)
  } ms, ${board.pageBytes} B; live: ${
    board.updatesPerS.toFixed(2)
  } updates/s, at most ${board.updateBytesMax} B`,
);

const two = spawnCloud(0);
const url2 = await two.url;
await sleep(5000);
const double = await phase([url1, url2], token, "two");
log(
  `2 instances: ${Math.round(double.ingest)} heartbeats/s, lag p99 ${double.lagP99} ms, API p50 ${
    double.apiP50.toFixed(1)
  } / p99 ${double.apiP99.toFixed(1)} ms`,
);

sim.kill("SIGTERM");
await sim.status;
const simSeconds = (performance.now() - simStarted) / 1000;
const sent = JSON.parse((await simOut).trim().split("\n").pop() ?? "{}").heartbeats ?? NaN;
log(
  `simulator sent ${sent} heartbeats in ${simSeconds.toFixed(1)} s: ${
    Math.round(sent / simSeconds)
  }/s`,
);
for (const c of [one.child, two.child]) {
  c.kill("SIGTERM");
  await c.status;
}
await nc.close();
await nats.stop();
await Deno.remove(work, { recursive: true });
console.log(JSON.stringify({
  bench: "fleet",
  devices: DEVICES,
  interval_ms: INTERVAL_MS,
  offered_msgs_s: Math.round((DEVICES * 1000) / INTERVAL_MS),
  sent_msgs_s: Math.round(sent / simSeconds),
  ingest_msgs_s: Math.round(single.ingest),
  ingest_msgs_s_2_instances: Math.round(double.ingest),
  lag_p50_ms: single.lagP50,
  lag_p99_ms: single.lagP99,
  lag_p99_ms_2_instances: double.lagP99,
  api_p50_ms: Number(single.apiP50.toFixed(2)),
  api_p99_ms: Number(single.apiP99.toFixed(2)),
  api_p50_ms_2_instances: Number(double.apiP50.toFixed(2)),
  api_p99_ms_2_instances: Number(double.apiP99.toFixed(2)),
  offline_listed: single.offline,
  dashboard_page_p50_ms: Number(board.pageP50.toFixed(2)),
  dashboard_page_p99_ms: Number(board.pageP99.toFixed(2)),
  dashboard_page_bytes: board.pageBytes,
  dashboard_live_updates_s: Number(board.updatesPerS.toFixed(2)),
  dashboard_live_update_bytes_max: board.updateBytesMax,
  lag_probes: single.probes,
  machine: machine(),
}));
Deno.exit(0);
