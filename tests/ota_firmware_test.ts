/**
 * The operator's path for a firmware update on ARM, end to end: the aarch64 bundle is built,
 * published with `./vend publish` through the fleet API, deployed with `POST /deployments`, and
 * installed by the bundle's own supervisor and agent running under qemu user emulation.
 */
import assert from "node:assert/strict";
import { buildEdge } from "../cli/build_edge.ts";
import { startCloudService } from "../cloud/mod.ts";
import { OtaSlots } from "../edge/mod.ts";
import { filters, parseHeartbeat } from "../protocol/mod.ts";
import { eventually, writeAgentConfigFile } from "./edge_harness.ts";
import { ROOT, startTestNats } from "./harness.ts";

const quiet = { log: () => {} };

async function vendPublish(args: string[]) {
  const out = await new Deno.Command(`${ROOT}vend`, {
    args: ["publish", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

Deno.test({
  name:
    "aarch64 firmware published with vend publish and deployed through the API is installed by the bundle's supervisor under qemu",
  ignore: Deno.build.arch === "aarch64",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const out = await Deno.makeTempDir({ prefix: "vend-dist-" });
    const work = await Deno.makeTempDir({ prefix: "vend-ota-fw-" });
    await using nats = await startTestNats();
    await using svc = await startCloudService(nats, { logger: quiet });
    const admin = await svc.tokens.issue({ subject: "admin-1", role: "admin" });
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${svc.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      return { status: res.status, body: await res.json() };
    };
    let supervisor: Deno.ChildProcess | undefined;
    try {
      const build = await buildEdge("aarch64", out);
      const recipe = (version: string) => ({
        component: "agent",
        version,
        kind: "agent",
        platform: { arch: ["aarch64"] },
        lifecycle: { apply: "restart", healthWindowMs: 180_000, maxBoots: 3 },
      });
      await Deno.writeTextFile(`${work}/agent-0.2.0.json`, JSON.stringify(recipe("0.2.0")));
      await Deno.writeTextFile(`${work}/bad.json`, JSON.stringify(recipe("two")));
      const api = ["--api", svc.url, "--token", admin];
      // Bad input: a recipe the API refuses (named field), a missing file, no artifact.
      const refused = await vendPublish([
        `${work}/bad.json`,
        `firmware-aarch64.tar=${build.firmware}`,
        ...api,
      ]);
      assert.equal(refused.code, 1, refused.stderr);
      assert.match(refused.stderr, /refused the version \(400\).*\[field body\.recipe\.version\]/);
      const missing = await vendPublish([
        `${work}/agent-0.2.0.json`,
        "firmware.tar=/nope.tar",
        ...api,
      ]);
      assert.equal(missing.code, 2);
      assert.match(missing.stderr, /Cannot read artifact "firmware.tar" from "\/nope.tar"/);
      const none = await vendPublish([`${work}/agent-0.2.0.json`, ...api]);
      assert.equal(none.code, 2);
      assert.match(none.stderr, /without an artifact/);
      const published = await vendPublish([
        `${work}/agent-0.2.0.json`,
        `firmware-aarch64.tar=${build.firmware}`,
        ...api,
      ]);
      assert.equal(published.code, 0, published.stderr);
      assert.match(published.stdout, /^published agent 0\.2\.0 \(signed by key \S+\)/);

      // The device: registered, its trust pinned, the factory image in slot a.
      const reg = await call("PUT", "/devices/m001-a", {
        machineId: "m001",
        role: "primary",
        region: "local",
      });
      assert.ok(reg.status === 200 || reg.status === 201, JSON.stringify(reg.body));
      const keys = (await call("GET", "/update-keys")).body.keys;
      const config = await writeAgentConfigFile(work, nats, {
        heartbeatIntervalMs: 500,
        recording: { enabled: false },
        ota: { trustedKeys: keys },
      });
      const otaDir = `${work}/ota`;
      supervisor = new Deno.Command(`${build.dir}/vend-supervisor`, {
        args: [
          "--ota-dir",
          otaDir,
          "--install",
          build.dir,
          "--version",
          "0.1.0",
          "--",
          "--config",
          config,
          "--simulate",
        ],
        stdout: "null",
        stderr: "null",
      }).spawn();
      const nc = await nats.connect();
      const version = async () => {
        const sub = nc.subscribe(filters.heartbeats(), { max: 1, timeout: 20_000 });
        for await (const m of sub) {
          const hb = parseHeartbeat(m.data);
          if (hb.ok) return hb.value.appVersion;
        }
        return undefined;
      };
      await eventually(async () => (await version()) === "0.1.0" || undefined, 180_000, "0.1.0");

      const dep = await call("POST", "/deployments", {
        targets: [{ component: "agent", version: "0.2.0" }],
        selector: { devices: ["m001-a"] },
        policy: { canary: 1 },
      });
      assert.equal(dep.status, 201, JSON.stringify(dep.body));
      // What the deployment last said, printed if it does not finish.
      let last = "";
      const done = await eventually(
        async () => {
          const d = (await call("GET", `/deployments/${dep.body.id}`)).body;
          last = JSON.stringify(d);
          return d.counts.healthy + d.counts.failed + d.counts.rolled_back === 1 ? d : undefined;
        },
        300_000,
        "deployment finished",
      ).catch((e) => {
        throw new Error(`${(e as Error).message}; last seen ${last}`);
      });
      assert.equal(done.counts.healthy, 1, JSON.stringify(done));
      assert.equal(await version(), "0.2.0");
      const state = await (await OtaSlots.open(otaDir)).read();
      assert.equal(state.active, "b");
      assert.equal(state.slots.b?.version, "0.2.0");
      assert.equal(state.slots.a?.version, "0.1.0", "the factory version stays as the fallback");
      supervisor.kill("SIGTERM");
      const status = await supervisor.status;
      assert.equal(status.code, 0, "the supervisor stops cleanly with its agent");
      supervisor = undefined;
      await nc.close();
    } finally {
      try {
        supervisor?.kill("SIGKILL");
      } catch { /* exited */ }
      await Deno.remove(out, { recursive: true }).catch(() => {});
      await Deno.remove(work, { recursive: true }).catch(() => {});
    }
  },
});
