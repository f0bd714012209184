import assert from "node:assert/strict";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { ensureStreams, regionTag } from "../cloud/nats/mod.ts";
import { heartbeat, newEnvelope, streamName, subjects } from "../protocol/mod.ts";
import { startTestCluster } from "./harness.ts";

/** The local region's EVENTS stream, which the tests below replicate. */
const EVENTS = streamName("EVENTS", "local");

const beat = (deviceId: string, seq: number) =>
  heartbeat.encode({
    ...newEnvelope(),
    deviceId,
    machineId: deviceId.replace(/-[ab]$/, ""),
    role: "primary",
    seq,
    uptimeMs: seq * 1000,
    status: "ok",
    door: "closed",
    appVersion: "0.1.0",
    modelVersion: null,
  });

Deno.test("a 3-server cluster loses no acknowledged message when a server is killed", async () => {
  await using cluster = await startTestCluster(["local"]);
  const nc = await cluster.connect("local");
  await ensureStreams(nc, "local", { replicas: 3, tags: [regionTag("local")] });
  const jsm = await jetstreamManager(nc);
  const before = await jsm.streams.info(EVENTS);
  assert.equal(before.config.num_replicas, 3);
  assert.equal(before.cluster?.replicas?.length, 2, "a leader and two followers");
  const leader = before.cluster!.leader!;

  const js = jetstream(nc);
  const subject = subjects.pipelineEvent({ region: "local", deviceId: "m001-a" }, "door_opened");
  const acked = new Map<string, number>(); // message id -> stream sequence
  let failures = 0;
  const total = 1200;
  const publishOne = async (i: number) => {
    const id = `evt-${String(i).padStart(6, "0")}`;
    for (;;) {
      try {
        const ack = await js.publish(subject, JSON.stringify({ i }), { msgID: id, timeout: 2000 });
        acked.set(id, ack.seq);
        return;
      } catch {
        failures++; // not acknowledged: publish again (the id makes a repeat harmless)
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };
  // 16 publishers at a time; the stream's leader is killed (SIGKILL) a third of the way.
  let next = 0;
  let killed: Promise<void> | undefined;
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (next < total) {
      const i = next++;
      if (i === total / 3) killed = cluster.sc.kill(leader);
      await publishOne(i);
    }
  }));
  await killed;
  assert.equal(cluster.sc.isRunning(leader), false);

  const after = await jsm.streams.info(EVENTS);
  assert.notEqual(after.cluster?.leader, leader, "another server leads the stream");
  assert.equal(acked.size, total);
  // Every acknowledged message is in the stream, at the sequence its ack named, exactly once.
  assert.equal(after.state.messages, total);
  const seqs = new Set(acked.values());
  assert.equal(seqs.size, total, "no two acks name the same sequence");
  for (const [id, seq] of acked) {
    const m = await jsm.streams.getMessage(EVENTS, { seq });
    assert.equal(m?.header.get("Nats-Msg-Id"), id);
  }
  console.log(`publishes retried after the kill: ${failures}`);

  // The killed server comes back and catches up: it holds every message again.
  await cluster.sc.start(leader);
  const mon = cluster.sc.plan.servers.find((s) => s.name === leader)!;
  let stored = -1;
  for (let i = 0; i < 100 && stored !== total; i++) {
    await new Promise((r) => setTimeout(r, 200));
    const jsz = await fetch(`http://${mon.host}:${mon.monitorPort}/jsz?streams=true`).then((r) =>
      r.json()
    ).catch(() => undefined);
    // deno-lint-ignore no-explicit-any
    const streams = (jsz?.account_details ?? []).flatMap((a: any) => a.stream_detail ?? []);
    // deno-lint-ignore no-explicit-any
    stored = streams.find((s: any) => s.name === EVENTS)?.state?.messages ?? -1;
  }
  assert.equal(stored, total, `${leader} caught up after its restart`);
});

Deno.test("a device fails over to another server of its region when its server dies", async () => {
  await using cluster = await startTestCluster(["local"]);
  const cloud = await cluster.connect("local");
  const dev = { region: "local", deviceId: "m001-a" };
  const device = await cluster.connectDevice(dev);
  const first = device.info!.server_name;
  const received: number[] = [];
  const sub = cloud.subscribe(subjects.heartbeat(dev));
  void (async () => {
    for await (const m of sub) {
      const parsed = heartbeat.parse(m.data);
      if (parsed.ok) received.push(parsed.value.seq);
    }
  })();
  let seq = 0;
  const timer = setInterval(
    () => device.publish(subjects.heartbeat(dev), beat(dev.deviceId, seq++)),
    100,
  );
  try {
    while (received.length < 3) await new Promise((r) => setTimeout(r, 50));
    const killedAt = seq;
    await cluster.sc.kill(first);
    while (!received.some((s) => s > killedAt + 2)) await new Promise((r) => setTimeout(r, 50));
  } finally {
    clearInterval(timer);
  }
  assert.notEqual(device.info!.server_name, first, "the device is on another server");
  assert.ok(
    cluster.sc.servers("local").some((s) => s.name === device.info!.server_name),
    "of its own region",
  );
});
