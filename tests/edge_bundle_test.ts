import assert from "node:assert/strict";
import { buildEdge, verifyBundle } from "../cli/build_edge.ts";
import { ensureStreams } from "../cloud/nats/mod.ts";
import { filters, parseClipUploaded, parseHeartbeat, parsePipelineEvent } from "../protocol/mod.ts";
import { type AgentNats, writeAgentConfigFile } from "./edge_harness.ts";
import { lines, startTestNats } from "./harness.ts";

/** Starts a built device program, stops it after its first heartbeat and resolves with the devices that heartbeat names. */
async function firstHeartbeat(
  executable: string,
  nats: AgentNats,
  connect: () => Promise<import("@nats-io/nats-core").NatsConnection>,
  timeoutMs: number,
) {
  const dir = await Deno.makeTempDir({ prefix: "vend-bundle-run-" });
  const config = await writeAgentConfigFile(dir, nats, { heartbeatIntervalMs: 200 });
  const nc = await connect();
  const beats = nc.subscribe(filters.heartbeats(), { max: 1, timeout: timeoutMs });
  await nc.flush();
  // Run from an empty folder: the program must need nothing but its own files.
  const child = new Deno.Command(executable, {
    args: ["--config", config, "--simulate"],
    cwd: dir,
    stdout: "piped",
    stderr: "null",
  }).spawn();
  try {
    const from: string[] = [];
    for await (const m of beats) {
      const hb = parseHeartbeat(m.data);
      assert.ok(hb.ok, "the heartbeat does not parse");
      from.push(hb.value.deviceId);
    }
    child.kill("SIGTERM");
    const status = await child.status;
    assert.equal(status.code, 0, "stops cleanly on SIGTERM");
    let ready = false;
    for await (const line of lines(child.stdout)) ready ||= line === "ready: m001-a";
    assert.ok(ready, "the program never said it was ready");
    return from;
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("the x86_64 firmware bundle verifies against its manifest and runs from an empty folder", async () => {
  const out = await Deno.makeTempDir({ prefix: "vend-dist-" });
  try {
    const build = await buildEdge("x86_64", out);
    assert.equal(build.kind, "bundle"); // denort cannot be downloaded here
    assert.deepEqual(await verifyBundle(build.dir), []);
    // The same files as the agent component's artifact, and the supervisor runs.
    const listed = new TextDecoder().decode(
      (await new Deno.Command("tar", { args: ["-tf", build.firmware!] }).output()).stdout,
    ).split("\n");
    for (const f of ["./vend-edge", "./vend-supervisor", "./app/agent.js", "./bin/deno"]) {
      assert.ok(listed.includes(f), `${f} in firmware.tar`);
    }
    const sup = await new Deno.Command(`${build.dir}/vend-supervisor`, { stderr: "piped" })
      .output();
    assert.equal(sup.code, 2);
    assert.match(new TextDecoder().decode(sup.stderr), /--ota-dir is required/);
    await using nats = await startTestNats();
    const beats = await firstHeartbeat(build.executable, nats, () => nats.connect(), 60_000);
    assert.deepEqual(beats, ["m001-a"]);
    // A changed byte is caught by the manifest.
    const js = `${build.dir}/app/agent.js`;
    const bytes = await Deno.readFile(js);
    bytes[100] = bytes[100]! ^ 1;
    await Deno.writeFile(js, bytes);
    const problems = await verifyBundle(build.dir);
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /^app\/agent\.js: SHA-256/);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

/** Runs a built device program with a camera and automatic sessions; resolves with a clip event. */
async function firstClip(
  executable: string,
  nats: AgentNats,
  connect: () => Promise<import("@nats-io/nats-core").NatsConnection>,
  timeoutMs: number,
) {
  const dir = await Deno.makeTempDir({ prefix: "vend-bundle-rec-" });
  const config = await writeAgentConfigFile(dir, nats, {
    cameras: [{
      cameraId: "cam-1",
      source: { kind: "synthetic" },
      width: 160,
      height: 120,
      fps: 10,
    }],
    recording: { preRollMs: 200, postRollMs: 200, uploadIntervalMs: 200 },
    // The model shipped in the bundle decides the carts.
    recognition: { model: `${executable.slice(0, executable.lastIndexOf("/"))}/app/model` },
  });
  const nc = await connect();
  await ensureStreams(nc, "local");
  const clips = nc.subscribe(filters.clipsUploaded(), { max: 1, timeout: timeoutMs });
  const completed = (async () => {
    const sub = nc.subscribe(filters.pipelineEvents(), { timeout: timeoutMs });
    for await (const m of sub) {
      const e = parsePipelineEvent(m.data);
      if (e.ok && e.value.type === "session_completed") {
        sub.unsubscribe();
        return e.value;
      }
    }
    throw new Error("no session completed");
  })();
  // Awaited only once a clip came: if none does, its failure is the one to report.
  completed.catch(() => {});
  await nc.flush();
  const child = new Deno.Command(executable, {
    args: ["--config", config, "--simulate", "--auto-sessions", "2"],
    cwd: dir,
    stdout: "null",
    stderr: "piped",
  }).spawn();
  // The program's last log lines, shown if it does not stop on SIGTERM.
  const said: string[] = [];
  const reading = (async () => {
    for await (const line of lines(child.stderr)) {
      said.push(line);
      if (said.length > 40) said.shift();
    }
  })();
  // No clip in time: what the program said is the clue .
  const silence = (e: unknown) =>
    new Error(
      `${(e as Error).message}: no clip within ${timeoutMs} ms; it said:\n${said.join("\n")}`,
      {
        cause: e,
      },
    );
  let failure: unknown;
  try {
    let got: Uint8Array | undefined;
    try {
      for await (const m of clips) {
        got = m.data;
        break;
      }
    } catch (e) {
      throw silence(e);
    }
    if (!got) throw silence(new Error("the subscription ended"));
    const clip = parseClipUploaded(got);
    assert.ok(clip.ok, "a valid clip-uploaded event");
    const session = await completed;
    // Decided by the bundled model (a failed decision would carry the fallback version).
    assert.equal(session.modelVersion, "1.0.0", session.review.reasons.join("; "));
    assert.ok(
      !session.review.reasons.some((r) => /decision failed|no cart decider|restarted/.test(r)),
      session.review.reasons.join("; "),
    );
    return clip.value;
  } catch (e) {
    failure = e;
    throw e;
  } finally {
    child.kill("SIGTERM");
    // A program that does not stop on SIGTERM fails the test instead of hanging it.
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    const status = await child.status;
    clearTimeout(timer);
    await reading;
    await Deno.remove(dir, { recursive: true });
    // Both, when it also did not stop: the first failure is not hidden by the second.
    const first = failure ? `after ${(failure as Error).message}: ` : "";
    assert.equal(
      status.signal,
      null,
      `${first}stopped cleanly on SIGTERM; it said:\n${said.join("\n")}`,
    );
  }
}

Deno.test("the x86_64 firmware bundle records a door session with ffmpeg.wasm and uploads the clip", async () => {
  const out = await Deno.makeTempDir({ prefix: "vend-dist-" });
  try {
    const build = await buildEdge("x86_64", out);
    await using nats = await startTestNats();
    const clip = await firstClip(build.executable, nats, () => nats.connect(), 120_000);
    assert.equal(clip.cameraId, "cam-1");
    assert.equal(clip.codec, "h264");
    assert.ok(clip.frames > 0 && clip.bytes > 0);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
