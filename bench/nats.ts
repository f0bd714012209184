/**
 * `./vend bench nats`: what the local nats-server started by cloud/dev/local_nats.ts carries on this
 * machine (with its default decentralized authentication and TLS): core publish/subscribe,
 * request/reply latency, JetStream publishes with de-duplication ids (from the cloud account, and
 * from a device across the account boundary), a device's heartbeats to the cloud, and KV puts. Prints progress to stderr and one JSON object as the last
 * line of stdout.
 *
 * @example
 * ```sh
 * ./vend bench nats
 * ```
 *
 * @module
 */
import { jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { connectNats } from "../cloud/mod.ts";
import { ensureStreams } from "../cloud/nats/mod.ts";
import { startLocalNats } from "../cloud/dev/mod.ts";
import { writePrivateFile } from "../runtime/mod.ts";
import {
  deviceInboxPrefix,
  heartbeat,
  newEnvelope,
  newMessageId,
  pipelineEvent,
  subjects,
} from "../protocol/mod.ts";
import { machine, peakRssMb, percentile } from "./_machine.ts";

const dev = { region: "local", deviceId: "bench-1" };

function beat(seq: number): Uint8Array {
  return heartbeat.encode({
    ...newEnvelope(),
    deviceId: dev.deviceId,
    machineId: "bench",
    role: "primary",
    seq,
    uptimeMs: seq * 1000,
    status: "ok",
    door: "closed",
    appVersion: "0.1.0",
    modelVersion: null,
  });
}

const dataDir = await Deno.makeTempDir({ prefix: "vend-bench-nats-" });
await using nats = await startLocalNats({ dataDir });
const pub = await connectNats(nats, { name: "bench-pub" });
const sub = await connectNats(nats, { name: "bench-sub" });

// Core publish -> subscribe, two connections, heartbeat-sized payloads.
const N = 400_000;
const payload = beat(1);
const subscription = sub.subscribe(subjects.heartbeat(dev), { max: N });
await sub.flush();
let t0 = performance.now();
const received = (async () => {
  for await (const _ of subscription) { /* count */ }
})();
for (let i = 0; i < N; i++) {
  pub.publish(subjects.heartbeat(dev), payload);
  if (i % 10_000 === 0) await pub.flush();
}
await received;
const coreMsgsS = N / ((performance.now() - t0) / 1000);
console.error(`core pub/sub: ${Math.round(coreMsgsS)} msgs/s (${payload.length} B payload)`);

// Request/reply round trips.
const echo = sub.subscribe("vs.local.bench.echo", {
  callback: (_e, m) => {
    m.respond(m.data);
  },
});
await sub.flush();
const rtts: number[] = [];
for (let i = 0; i < 2000; i++) {
  const t = performance.now();
  await pub.request("vs.local.bench.echo", payload, { timeout: 2000 });
  rtts.push(performance.now() - t);
}
echo.unsubscribe();
console.error(
  `request/reply: p50 ${percentile(rtts, 50).toFixed(3)} ms, p99 ${
    percentile(rtts, 99).toFixed(3)
  } ms`,
);

// JetStream publishes with message ids, 1,000 in flight.
await ensureStreams(pub, "local");
const js = jetstream(pub);
const JS_N = 50_000;
const event = pipelineEvent.encode({
  ...newEnvelope(),
  deviceId: dev.deviceId,
  machineId: "bench",
  type: "door_opened",
  sessionId: "sess-00000001",
});
t0 = performance.now();
let inflight: Promise<unknown>[] = [];
for (let i = 0; i < JS_N; i++) {
  inflight.push(
    js.publish(subjects.pipelineEvent(dev, "door_opened"), event, { msgID: newMessageId() }),
  );
  if (inflight.length >= 1000) {
    await Promise.all(inflight);
    inflight = [];
  }
}
await Promise.all(inflight);
const jsPublishS = JS_N / ((performance.now() - t0) / 1000);
console.error(`JetStream publish (dedup id, 1000 in flight): ${Math.round(jsPublishS)} msgs/s`);

// The same from a device: its own credentials in the DEVICES account, its publishes crossing the
// account boundary into the cloud account (JetStream's home), as every device's events do.
const deviceCreds = `${dataDir}/device.creds`;
await writePrivateFile(
  deviceCreds,
  (await nats.accounts!.deviceCredentials({ ...dev, peers: [] })).creds!,
);
const device = await connectNats(nats, {
  name: dev.deviceId,
  credentialsFile: deviceCreds,
  inboxPrefix: deviceInboxPrefix(dev.deviceId),
});
const deviceJs = jetstream(device, { checkAPI: false });
t0 = performance.now();
inflight = [];
for (let i = 0; i < JS_N; i++) {
  inflight.push(
    deviceJs.publish(subjects.pipelineEvent(dev, "door_opened"), event, { msgID: newMessageId() }),
  );
  if (inflight.length >= 1000) {
    await Promise.all(inflight);
    inflight = [];
  }
}
await Promise.all(inflight);
const deviceJsPublishS = JS_N / ((performance.now() - t0) / 1000);
console.error(
  `JetStream publish from a device (across accounts): ${Math.round(deviceJsPublishS)} msgs/s`,
);
const beats = sub.subscribe(subjects.heartbeat(dev), { max: N / 4 });
await sub.flush();
t0 = performance.now();
const heard = (async () => {
  for await (const _ of beats) { /* count */ }
})();
for (let i = 0; i < N / 4; i++) {
  device.publish(subjects.heartbeat(dev), payload);
  if (i % 10_000 === 0) await device.flush();
}
await heard;
const deviceCoreMsgsS = N / 4 / ((performance.now() - t0) / 1000);
console.error(`heartbeats from a device to the cloud: ${Math.round(deviceCoreMsgsS)} msgs/s`);
await device.close();

// KV puts, 1,000 in flight, over 10,000 keys.
const kv = await new Kvm(pub).create("bench_kv", { history: 1 });
const KV_N = 30_000;
t0 = performance.now();
inflight = [];
for (let i = 0; i < KV_N; i++) {
  inflight.push(kv.put(`dev-${i % 10_000}`, payload));
  if (inflight.length >= 1000) {
    await Promise.all(inflight);
    inflight = [];
  }
}
await Promise.all(inflight);
const kvPutS = KV_N / ((performance.now() - t0) / 1000);
console.error(`KV put (1000 in flight): ${Math.round(kvPutS)} puts/s`);

await pub.close();
await sub.close();
await nats.stop();
await Deno.remove(dataDir, { recursive: true });

console.log(JSON.stringify({
  bench: "nats",
  core_msgs_s: Math.round(coreMsgsS),
  payload_bytes: payload.length,
  request_rtt_p50_ms: Number(percentile(rtts, 50).toFixed(3)),
  request_rtt_p99_ms: Number(percentile(rtts, 99).toFixed(3)),
  js_publish_s: Math.round(jsPublishS),
  device_js_publish_s: Math.round(deviceJsPublishS),
  device_core_msgs_s: Math.round(deviceCoreMsgsS),
  kv_put_s: Math.round(kvPutS),
  rss_mb: peakRssMb(),
  machine: machine(),
}));
