import assert from "node:assert/strict";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { NatsUnavailableError } from "../cloud/mod.ts";
import { ensureStreams } from "../cloud/nats/mod.ts";
import { ensureNats, NatsStartError, startLocalNats } from "../cloud/dev/mod.ts";
import {
  newEnvelope,
  parsePipelineEvent,
  pipelineEvent,
  streamName,
  subjects,
} from "../protocol/mod.ts";
import { lines, ROOT, startTestNats } from "./harness.ts";

Deno.test("LocalNats carries a message from one client to another", async () => {
  await using nats = await startTestNats();
  await using a = await nats.connect("a");
  await using b = await nats.connect("b");
  const sub = b.subscribe("vs.test.hello", { max: 1 });
  await b.flush();
  a.publish("vs.test.hello", "hi from a");
  for await (const m of sub) assert.equal(m.string(), "hi from a");
  assert.equal(sub.getProcessed(), 1);
});

Deno.test("JetStream drops a second publish with the same message id", async () => {
  await using nats = await startTestNats();
  await using nc = await nats.connect();
  await ensureStreams(nc, "local");
  const js = jetstream(nc);
  const dev = { region: "local", deviceId: "m001-a" };
  const event = pipelineEvent.encode({
    ...newEnvelope(),
    deviceId: dev.deviceId,
    machineId: "m001",
    type: "door_opened",
    sessionId: "sess-00000001",
  });
  const id = (parsePipelineEvent(event) as { ok: true; value: { id: string } }).value.id;
  const first = await js.publish(subjects.pipelineEvent(dev, "door_opened"), event, { msgID: id });
  const second = await js.publish(subjects.pipelineEvent(dev, "door_opened"), event, { msgID: id });
  assert.equal(first.duplicate, false);
  assert.equal(second.duplicate, true);
  assert.equal(second.seq, first.seq);
  const info = await (await jetstreamManager(nc)).streams.info(streamName("EVENTS", "local"));
  assert.equal(info.state.messages, 1);
});

Deno.test("ensureStreams is idempotent and creates every region stream", async () => {
  await using nats = await startTestNats();
  await using nc = await nats.connect();
  const first = await ensureStreams(nc, "eu-west");
  const again = await ensureStreams(nc, "eu-west");
  assert.deepEqual(again, first);
  const jsm = await jetstreamManager(nc);
  const names = [];
  for await (const s of jsm.streams.list()) names.push(s.config.name);
  assert.deepEqual(names.filter((n) => n.endsWith("_EU-WEST")).sort(), [
    "ALERTS_EU-WEST",
    "AUDIT_EU-WEST",
    "EVENTS_EU-WEST",
    "PAYMENTS_EU-WEST",
    "TELEMETRY_EU-WEST",
    "UPDATES_EU-WEST",
  ]);
  // And the buckets devices use (their credentials cannot create any).
  for (
    const b of [
      "KV_shadow_local",
      "KV_components",
      "OBJ_artifacts",
      "OBJ_clips_local",
      "OBJ_snapshots_local",
    ]
  ) {
    assert.ok(names.includes(b), `${b} exists`);
  }
});

Deno.test("startLocalNats picks another port when the preferred one is taken", async () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const busy = (taken.addr as Deno.NetAddr).port;
  const dataDir = await Deno.makeTempDir();
  try {
    await using nats = await startLocalNats({ dataDir, port: busy });
    assert.notEqual(nats.port, busy);
    await using probe = await ensureNats({
      url: nats.url,
      credentialsFile: nats.credentialsFile!,
      caFile: nats.caFile!,
    });
    assert.equal(probe.local, false);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("ensureNats names a NATS_URL that refuses connections", async () => {
  const port = (() => {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const p = (l.addr as Deno.NetAddr).port;
    l.close();
    return p;
  })();
  const url = `nats://127.0.0.1:${port}`;
  const started = performance.now();
  await assert.rejects(ensureNats({ url }), (e: Error) => {
    assert.ok(e instanceof NatsUnavailableError);
    assert.match(e.message, new RegExp(`Cannot connect to NATS at ${url}`));
    return true;
  });
  assert.ok(performance.now() - started < 10_000);
});

Deno.test("ensureNats gives up within 10 s on a NATS_URL that never answers", async () => {
  // A TCP server that accepts and stays silent: the NATS handshake never starts.
  const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of silent) held.push(conn);
  })().catch(() => {});
  const url = `nats://127.0.0.1:${(silent.addr as Deno.NetAddr).port}`;
  const started = performance.now();
  try {
    await assert.rejects(ensureNats({ url }), (e: Error) => {
      assert.ok(e instanceof NatsUnavailableError, String(e));
      assert.ok(e.message.includes(url), e.message);
      return true;
    });
    const elapsed = performance.now() - started;
    assert.ok(elapsed < 10_500, `took ${elapsed} ms`);
  } finally {
    silent.close();
    held.forEach((c) => c.close());
    await accepting;
  }
});

Deno.test("connectNats refuses a URL that is not a NATS URL", async () => {
  await assert.rejects(ensureNats({ url: "http://example" }), TypeError);
  await assert.rejects(ensureNats({ url: "nats://a b" }), /not a URL/);
});

Deno.test("startLocalNats stops the server when its signal aborts", async () => {
  const dataDir = await Deno.makeTempDir();
  try {
    const controller = new AbortController();
    const nats = await startLocalNats({ dataDir, signal: controller.signal });
    controller.abort();
    await nats.exited;
    assert.ok(!alive(nats.pid), `nats-server ${nats.pid} still running after abort`);
    await nats.stop();
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

/** Starts a separate Deno process that runs a local NATS on `dataDir` and reports its pids. */
async function spawnOwner(dataDir: string) {
  const code = `
    import { startLocalNats } from "${ROOT}cloud/dev/mod.ts";
    const nats = await startLocalNats({ dataDir: ${JSON.stringify(dataDir)} });
    console.log(JSON.stringify({ url: nats.url, serverPid: nats.pid }));
    await new Promise(() => {});
  `;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    cwd: ROOT,
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const it = lines(child.stdout);
  const first = await it.next();
  const info = JSON.parse(first.value as string) as { url: string; serverPid: number };
  return { child, ...info, drain: it.return(undefined) };
}

function alive(pid: number): boolean {
  try {
    Deno.kill(pid, "SIGCONT");
    return true;
  } catch {
    return false;
  }
}

Deno.test("startLocalNats refuses a data folder in use by another live process", async () => {
  const dataDir = await Deno.makeTempDir();
  const owner = await spawnOwner(dataDir);
  try {
    await assert.rejects(startLocalNats({ dataDir }), (e: Error) => {
      assert.ok(e instanceof NatsStartError);
      assert.match(e.message, new RegExp(`nats-server pid ${owner.serverPid}`));
      return true;
    });
  } finally {
    owner.child.kill("SIGTERM");
    await owner.child.status;
    Deno.kill(owner.serverPid, "SIGTERM");
    await owner.drain;
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("startLocalNats stops the server orphaned by a SIGKILLed owner", async () => {
  const dataDir = await Deno.makeTempDir();
  try {
    const owner = await spawnOwner(dataDir);
    owner.child.kill("SIGKILL");
    await owner.child.status;
    await owner.drain;
    assert.ok(alive(owner.serverPid), "the orphan should outlive its owner");
    await using nats = await startLocalNats({ dataDir });
    assert.ok(!alive(owner.serverPid), `orphan ${owner.serverPid} still running`);
    await using probe = await ensureNats({
      url: nats.url,
      credentialsFile: nats.credentialsFile!,
      caFile: nats.caFile!,
    });
    assert.equal(probe.url, nats.url);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});
