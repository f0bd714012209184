import assert from "node:assert/strict";
import { buildEdge, verifyBundle } from "../cli/build_edge.ts";
import { filters, parseHeartbeat } from "../protocol/mod.ts";
import { lines } from "./harness.ts";
import { startTestNats } from "./harness.ts";

/** Starts a built device program and resolves with the ms from spawn to its first heartbeat. */
async function firstHeartbeat(
  executable: string,
  natsUrl: string,
  connect: () => Promise<import("@nats-io/nats-core").NatsConnection>,
  timeoutMs: number,
) {
  const dir = await Deno.makeTempDir({ prefix: "vend-bundle-run-" });
  const config = `${dir}/agent.json`;
  await Deno.writeTextFile(
    config,
    JSON.stringify({
      deviceId: "m001-a",
      machineId: "m001",
      role: "primary",
      nats: { servers: [natsUrl] },
      dataDir: `${dir}/data`,
      heartbeatIntervalMs: 200,
    }),
  );
  const nc = await connect();
  const beats = nc.subscribe(filters.heartbeats(), { max: 1, timeout: timeoutMs });
  await nc.flush();
  const started = performance.now();
  // Run from an empty folder: the program must need nothing but its own files.
  const child = new Deno.Command(executable, {
    args: ["--config", config, "--simulate"],
    cwd: dir,
    stdout: "piped",
    stderr: "null",
  }).spawn();
  try {
    let ms = NaN;
    for await (const m of beats) {
      ms = performance.now() - started;
      const hb = parseHeartbeat(m.data);
      assert.ok(hb.ok && hb.value.deviceId === "m001-a");
    }
    child.kill("SIGTERM");
    const status = await child.status;
    assert.equal(status.code, 0, "stops cleanly on SIGTERM");
    let ready = false;
    for await (const line of lines(child.stdout)) ready ||= line === "ready: m001-a";
    assert.ok(ready);
    return ms;
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
    await using nats = await startTestNats();
    const ms = await firstHeartbeat(build.executable, nats.url, () => nats.connect(), 15_000);
    assert.ok(ms > 0);
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

Deno.test({
  name: "the aarch64 firmware bundle runs under qemu user emulation and heartbeats",
  ignore: Deno.build.arch === "aarch64",
  async fn() {
    const out = await Deno.makeTempDir({ prefix: "vend-dist-" });
    try {
      const build = await buildEdge("aarch64", out);
      assert.deepEqual(await verifyBundle(build.dir), []);
      await using nats = await startTestNats();
      const ms = await firstHeartbeat(build.executable, nats.url, () => nats.connect(), 120_000);
      assert.ok(ms > 0);
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
});
