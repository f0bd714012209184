/**
 * Recording on a running agent: door sessions become clips in the object store with a
 * clip-uploaded event each, and a full disk raises an alert instead of crashing the agent.
 */
import assert from "node:assert/strict";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Objm } from "@nats-io/obj";
import { ensureStreams } from "../cloud/nats/mod.ts";
import { Outbox } from "../edge/delivery/mod.ts";
import { Agent } from "../edge/mod.ts";
import { DeviceRecording } from "../edge/recording/mod.ts";
import { SimulatedHardware } from "../edge/sim/mod.ts";
import { type ClipEncoding, type ClipSpec, createFrame } from "../pipeline/mod.ts";
import { type ClipUploaded, filters, parseClipUploaded, streamName } from "../protocol/mod.ts";
import { eventually, streamEvents, testAgentConfig } from "./edge_harness.ts";
import { startTestNats } from "./harness.ts";
import { probeClip } from "./video_check.ts";

const quiet = { log: () => {} };

const cameras = ["cam-1", "cam-2"].map((cameraId) => ({
  cameraId,
  source: { kind: "synthetic" },
  width: 160,
  height: 120,
  fps: 10,
}));

async function clipEvents(nc: Parameters<typeof jetstream>[0]): Promise<ClipUploaded[]> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(streamName("EVENTS", "local"));
  if (info.state.messages === 0) return [];
  const c = await jetstream(nc).consumers.get(streamName("EVENTS", "local"), {
    filter_subjects: filters.clipsUploaded({ region: "local" }),
  });
  const out: ClipUploaded[] = [];
  for await (const m of await c.fetch({ max_messages: 100, expires: 1000 })) {
    const e = parseClipUploaded(m.data);
    if (!e.ok) throw e.error;
    out.push(e.value);
    if (m.info.pending === 0) break;
  }
  return out;
}

Deno.test("agent records a door session from each camera, uploads the clips and announces them", async () => {
  await using nats = await startTestNats();
  await using nc = await nats.connect();
  await ensureStreams(nc, "local");
  const hardware = new SimulatedHardware();
  const config = await testAgentConfig(nats, {
    cameras,
    recording: { enabled: true, preRollMs: 500, postRollMs: 300, uploadIntervalMs: 200 },
  });
  // The agent's log, shown if the clips do not come (a failure here was seen only under load).
  const logs: string[] = [];
  await using agent = await Agent.start(config, {
    hardware,
    log: (line) => void logs.push(JSON.stringify(line)),
  });
  await eventually(() => (agent.connected ? true : undefined), 5000, "connected");
  // Its clip encoders have started (a cold ffmpeg.wasm start takes seconds on a loaded machine).
  await agent.recordingReady();
  // Both cameras' frames reach the recorder before the door opens (on a loaded machine the
  // cameras may start later than the connection; a session without frames has no clip).
  // Each camera's, not only the first one's: a camera that starts late under load has no frame
  // in the session (and so no clip), which is what two fresh-clone runs saw.
  await eventually(
    () => {
      const stages = agent.metrics.snapshot();
      const recorder = stages.find((m) => m.name === "recorder");
      const cams = cameras.map((c) => stages.find((m) => m.name === `camera_${c.cameraId}`));
      return (recorder?.inCount ?? 0) >= 20 && cams.every((m) => (m?.outCount ?? 0) >= 10)
        ? true
        : undefined;
    },
    30_000,
    "frames of both cameras reaching the recorder",
  );
  hardware.setDoor("open");
  await new Promise((r) => setTimeout(r, 1500));
  hardware.setDoor("closed");
  const clips = await eventually(
    async () => {
      const e = await clipEvents(nc);
      return e.length >= 2 ? e : undefined;
    },
    60_000,
    "2 clip-uploaded events",
  ).catch((e) => {
    throw new Error(`${e.message}; the agent logged:\n${logs.join("\n")}`);
  });
  const events = await streamEvents(nc, "m001-a");
  const session = events.find((e) => e.type === "door_opened");
  const closed = events.find((e) => e.type === "door_closed");
  assert.ok(session?.type === "door_opened" && closed?.type === "door_closed");
  const openMs: number = closed.openMs;
  const openedTs: number = session.ts;
  assert.deepEqual(clips.map((c) => c.cameraId).sort(), ["cam-1", "cam-2"]);
  const os = await new Objm(nc).open("clips_local");
  for (const c of clips) {
    assert.equal(c.sessionId, session.sessionId);
    assert.equal(c.bucket, "clips");
    const r = await os.get(c.object);
    assert.ok(r, `object ${c.object}`);
    const bytes = await new Response(r.data).bytes();
    assert.equal(bytes.length, c.bytes);
    const sha = Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)))
      .map((b) => b.toString(16).padStart(2, "0")).join("");
    assert.equal(sha, c.sha256);
    const probe = await probeClip(bytes);
    assert.equal(probe.codec, "h264");
    assert.equal(probe.frames, c.frames);
    // The clip starts with the pre-roll (up to 500 ms before the door opened) and plays as long
    // as it says it spans (frames on a constant-rate timeline at the camera's measured rate,
    // which a loaded machine makes less exact).
    assert.ok(
      c.startTs <= openedTs && c.startTs >= openedTs - 700,
      `clip starts ${openedTs - c.startTs} ms before the door opened`,
    );
    const spanMs = c.endTs - c.startTs;
    assert.ok(
      Math.abs(probe.durationS * 1000 - spanMs) <= 250,
      `${probe.durationS} s of video for ${spanMs} ms`,
    );
    assert.ok(c.frames >= 10, `frames ${c.frames} for a door open ${openMs} ms`);
  }
});

async function tmpfs(
  bytes: number,
): Promise<{ path: string; [Symbol.asyncDispose](): Promise<void> } | undefined> {
  const path = await Deno.makeTempDir({ prefix: "vend-full-disk-" });
  const out = await new Deno.Command("mount", {
    args: ["-t", "tmpfs", "-o", `size=${bytes}`, "tmpfs", path],
    stderr: "null",
  }).output().catch(() => undefined);
  if (!out?.success) return undefined;
  return {
    path,
    async [Symbol.asyncDispose]() {
      await new Deno.Command("umount", { args: [path] }).output();
      await Deno.remove(path, { recursive: true });
    },
  };
}

const canMount = Deno.uid() === 0 && await (async () => {
  const t = await tmpfs(64 * 1024);
  await t?.[Symbol.asyncDispose]();
  return t !== undefined;
})();

Deno.test({
  name: "agent on a full disk raises a spool alert, keeps selling and does not crash",
  ignore: !canMount,
  fn: async () => {
    await using nats = await startTestNats();
    await using nc = await nats.connect();
    await ensureStreams(nc, "local");
    // The spool sits on a real 256 KiB file system: the first clip fills it.
    await using disk = (await tmpfs(256 * 1024))!;
    const hardware = new SimulatedHardware();
    const config = await testAgentConfig(nats, {
      cameras: [{ ...cameras[0], width: 320, height: 240 }],
      recording: {
        enabled: true,
        preRollMs: 0,
        postRollMs: 0,
        crf: 0,
        dir: disk.path,
        uploadIntervalMs: 60_000,
      },
    });
    await using agent = await Agent.start(config, { ...quiet, hardware });
    await eventually(() => (agent.connected ? true : undefined), 5000, "connected");
    await new Promise((r) => setTimeout(r, 500));
    hardware.setDoor("open");
    await new Promise((r) => setTimeout(r, 3000));
    hardware.setDoor("closed");
    const events = await eventually(
      async () => {
        const e = await streamEvents(nc, "m001-a");
        return e.some((x) => x.type === "session_completed") &&
            e.some((x) => x.type === "pipeline_error")
          ? e
          : undefined;
      },
      15_000,
      "session_completed and pipeline_error",
    );
    const error = events.find((e) => e.type === "pipeline_error");
    assert.ok(error?.type === "pipeline_error");
    assert.equal(error.stage, "spool");
    assert.match(error.reason, /disk is full/);
    // The agent is alive: it still answers and heartbeats.
    assert.ok(agent.connected);
    assert.ok(events.some((e) => e.type === "session_completed"));
  },
});

/** An encoder far behind, as on a slow board: it takes frames, and a clip it never finishes. */
class StuckEncoder {
  readonly backend = "stuck";
  opened = 0;
  disposed = false;
  open(spec: ClipSpec): Promise<ClipEncoding> {
    this.opened++;
    return Promise.resolve({
      spec,
      write: () => Promise.resolve(),
      close: () => new Promise<never>(() => {}),
      abort: () => {},
      output: new ReadableStream<Uint8Array>(),
    });
  }
  [Symbol.asyncDispose](): Promise<void> {
    this.disposed = true;
    return Promise.resolve();
  }
}

Deno.test("recording stopped while its clips are still encoding gives them up after its grace", async () => {
  const config = await testAgentConfig("nats://127.0.0.1:1", {
    cameras: [cameras[0]],
    recording: { enabled: true, preRollMs: 0, postRollMs: 0 },
  });
  using outbox = new Outbox(`${config.dataDir}/outbox.db`);
  const said: string[] = [];
  const encoder = new StuckEncoder();
  const rec = await DeviceRecording.start(config, {
    outbox,
    encoder,
    log: (_level, msg) => void said.push(msg),
  });
  const frame = (seq: number, ts: number) =>
    createFrame({
      cameraId: "cam-1",
      deviceId: config.deviceId,
      seq,
      ts,
      width: 160,
      height: 120,
      format: "i420",
      data: new Uint8Array(160 * 120 * 3 / 2),
    });
  const t0 = Date.now();
  rec.doorOpened("s-1", t0);
  for (let i = 0; i < 5; i++) rec.offer(frame(i, t0 + i * 100));
  await eventually(() => encoder.opened > 0 || undefined, 10_000, "a clip was opened");
  rec.doorClosed("s-1", t0 + 400);
  // Without a grace the stop would wait for the encoder for ever; 20 s is only this test's cap.
  let cap: ReturnType<typeof setTimeout> | undefined;
  const stopped = await Promise.race([
    rec.close({ graceMs: 200 }).then(() => true),
    new Promise<false>((r) => cap = setTimeout(() => r(false), 20_000)),
  ]).finally(() => clearTimeout(cap));
  assert.ok(stopped, "the recording stopped");
  assert.ok(encoder.disposed, "the encoder was stopped");
  assert.ok(
    said.includes("recording stopped before its clips in progress finished encoding"),
    said.join("; "),
  );
  await Deno.remove(config.dataDir, { recursive: true });
});
