/**
 * The aarch64 firmware bundle under qemu user emulation, in one boot of its supervisor (each
 * boot under qemu takes minutes): it verifies against its manifest, heartbeats, records a door
 * session with ffmpeg.wasm decided by its bundled model, and the operator's path for a firmware
 * update on ARM ends to end: published with `./vend publish` through the fleet API, deployed
 * with `POST /deployments`, installed by the bundle's own supervisor.
 */
import assert from "node:assert/strict";
import { buildEdge, verifyBundle } from "../cli/build_edge.ts";
import { startCloudService } from "../cloud/mod.ts";
import { OtaSlots } from "../edge/mod.ts";
import { filters, parseClipUploaded, parseHeartbeat, parsePipelineEvent } from "../protocol/mod.ts";
import { eventually, writeAgentConfigFile } from "./edge_harness.ts";
import { lines, ROOT, startTestNats } from "./harness.ts";

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
    "the aarch64 firmware bundle runs under qemu: it heartbeats, records a clip decided by its model, and firmware published with vend publish and deployed through the API is installed by its supervisor",
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
      assert.deepEqual(await verifyBundle(build.dir), []);
      const recipe = (version: string) => ({
        component: "agent",
        version,
        kind: "agent",
        platform: { arch: ["aarch64"] },
        // The new version loads the model again under qemu (82-88 s alone on a loaded machine).
        lifecycle: { apply: "restart", healthWindowMs: 300_000, maxBoots: 3 },
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
      const model = `${work}/model`;
      const copied = await new Deno.Command("cp", { args: ["-r", `${build.dir}/app/model`, model] })
        .output();
      assert.equal(copied.code, 0, new TextDecoder().decode(copied.stderr));
      const config = await writeAgentConfigFile(work, nats, {
        heartbeatIntervalMs: 500,
        cameras: [{
          cameraId: "cam-1",
          source: { kind: "synthetic" },
          width: 160,
          height: 120,
          fps: 10,
        }],
        recording: { preRollMs: 200, postRollMs: 200, uploadIntervalMs: 200 },
        // The model shipped in the bundle decides the carts (copied: the supervisor moves the
        // bundle into its slot).
        recognition: { model },
        ota: { trustedKeys: keys },
      });
      const nc = await nats.connect();
      // Under qemu on a loaded 2-core machine the model alone took 82-88 s to load and a clip
      // came 4 min after the start.
      const clipWithin = 420_000;
      const clips = nc.subscribe(filters.clipsUploaded(), { max: 1, timeout: clipWithin });
      const completed = (async () => {
        const sub = nc.subscribe(filters.pipelineEvents(), { timeout: clipWithin });
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
          "--auto-sessions",
          "2",
          // Sessions under qemu (render, encode, infer, emulated) would starve the update.
          "--auto-sessions-max",
          "2",
        ],
        stdout: "null",
        stderr: "piped",
      }).spawn();
      // The programs' last log lines, shown when a check fails.
      const said: string[] = [];
      const reading = (async () => {
        for await (const line of lines(supervisor.stderr)) {
          said.push(line);
          if (said.length > 40) said.shift();
        }
      })();
      const told = () => `; it said:\n${said.join("\n")}`;
      const version = async () => {
        const sub = nc.subscribe(filters.heartbeats(), { max: 1, timeout: 20_000 });
        for await (const m of sub) {
          const hb = parseHeartbeat(m.data);
          if (hb.ok) return hb.value.appVersion;
        }
        return undefined;
      };
      await eventually(async () => (await version()) === "0.1.0" || undefined, 180_000, "0.1.0");
      // ffmpeg.wasm records on the ARM build too, and the bundled model decides the cart.
      let got: Uint8Array | undefined;
      for await (const m of clips) got = m.data;
      assert.ok(got, "a clip was uploaded");
      const clip = parseClipUploaded(got);
      assert.ok(clip.ok, "a valid clip-uploaded event");
      assert.equal(clip.value.codec, "h264");
      assert.ok(clip.value.frames > 0);
      const session = await completed;
      // Decided by the bundled model (a failed decision would carry the fallback version).
      assert.equal(
        session.modelVersion,
        "1.0.0",
        session.review.reasons.join("; ") + told(),
      );
      assert.ok(
        !session.review.reasons.some((r) => /decision failed|no cart decider|restarted/.test(r)),
        session.review.reasons.join("; "),
      );

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
        // Download, verify, restart, the model loaded again and a frame: 3-6 min under qemu
        // beside another test file.
        480_000,
        "deployment finished",
      ).catch((e) => {
        throw new Error(`${(e as Error).message}; last seen ${last}${told()}`);
      });
      assert.equal(done.counts.healthy, 1, JSON.stringify(done));
      assert.equal(await version(), "0.2.0");
      const state = await (await OtaSlots.open(otaDir)).read();
      assert.equal(state.active, "b");
      assert.equal(state.slots.b?.version, "0.2.0");
      assert.equal(state.slots.a?.version, "0.1.0", "the factory version stays as the fallback");
      supervisor.kill("SIGTERM");
      // A stop drains the recorder, much slower under qemu; one that hangs fails the test.
      const running = supervisor;
      const timer = setTimeout(() => running.kill("SIGKILL"), 120_000);
      const status = await supervisor.status;
      clearTimeout(timer);
      assert.equal(status.code, 0, "the supervisor stops cleanly with its agent" + told());
      await reading;
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
