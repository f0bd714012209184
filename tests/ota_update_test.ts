/**
 * Remote updates end to end: a real agent process under the supervisor, firmware published to
 * the registry and deployed through the shadow; every fault ends with the device on a working
 * version and the cloud told which.
 */
import assert from "node:assert/strict";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { ensureStreams } from "../cloud/nats/mod.ts";
import { ComponentRegistry } from "../cloud/updates/mod.ts";
import { OtaSlots, runSupervisor } from "../edge/mod.ts";
import { bucketIn, buckets, filters, parseHeartbeat, shadow, shadowKey } from "../protocol/mod.ts";
import {
  type AgentNats,
  desireDeployment,
  eventually,
  updateEvents,
  writeAgentConfigFile,
} from "./edge_harness.ts";
import { ROOT, startTestNats } from "./harness.ts";

/** A firmware tar whose `vend-edge` runs the agent from this checkout, or misbehaves. */
async function firmware(mode: "good" | "crash" | "hang"): Promise<Uint8Array> {
  const dir = await Deno.makeTempDir({ prefix: "vend-fw-" });
  const body = mode === "crash"
    ? "exit 1"
    : mode === "hang"
    ? "exec sleep 600"
    : `exec "${Deno.execPath()}" run -A --frozen --config "${ROOT}deno.json" "${ROOT}edge/main.ts" "$@"`;
  await Deno.writeTextFile(`${dir}/vend-edge`, `#!/bin/sh\n${body}\n`);
  await Deno.chmod(`${dir}/vend-edge`, 0o755);
  const tar = `${dir}.tar`;
  const out = await new Deno.Command("tar", { args: ["-cf", tar, "-C", dir, "."] }).output();
  assert.ok(out.success);
  return await Deno.readFile(tar);
}

const agentRecipe = (version: string, healthWindowMs = 20_000) => ({
  component: "agent",
  version,
  kind: "agent",
  platform: { arch: ["x86_64", "aarch64"] },
  lifecycle: { apply: "restart", healthWindowMs, maxBoots: 2 },
});

async function lastHeartbeatVersion(nc: NatsConnection): Promise<string> {
  const sub = nc.subscribe(filters.heartbeats(), { max: 1, timeout: 10_000 });
  for await (const m of sub) {
    const hb = parseHeartbeat(m.data);
    if (hb.ok) return hb.value.appVersion;
  }
  throw new Error("no heartbeat");
}

/** A device: supervisor in this process, agent 0.1.0 in slot a as a child process. */
async function device(
  nc: NatsConnection,
  url: AgentNats,
  registry: ComponentRegistry,
  env: Record<string, string> = {},
) {
  const root = await Deno.makeTempDir({ prefix: "vend-ota-dev-" });
  const config = await writeAgentConfigFile(root, url, {
    heartbeatIntervalMs: 300,
    recording: { enabled: false },
    ota: { trustedKeys: await registry.trustedKeys() },
  });
  const slots = await OtaSlots.open(`${root}/ota`);
  const tar = `${root}/fw.tar`;
  await Deno.writeFile(tar, await firmware("good"));
  await new Deno.Command("tar", { args: ["-xf", tar, "-C", slots.slotDir("a")] }).output();
  await slots.write({
    active: "a",
    slots: { a: { version: "0.1.0", command: "vend-edge", args: ["--config", config] } },
    trial: null,
    last: null,
  });
  const stop = new AbortController();
  const running = runSupervisor(slots, {
    signal: stop.signal,
    restartDelayMs: 200,
    log: () => {},
    output: "null",
    env,
  });
  let desired = 0;
  return {
    slots,
    root,
    async deploy(deploymentId: string, targets: Array<{ component: string; version: string }>) {
      await desireDeployment(nc, "m001-a", { version: ++desired, deploymentId, targets });
    },
    async [Symbol.asyncDispose]() {
      stop.abort();
      await running;
    },
  };
}

/** NATS with the region's streams, and the component registry. */
async function world() {
  const nats = await startTestNats();
  const nc = await nats.connect();
  await ensureStreams(nc, "local");
  const registry = await ComponentRegistry.open(nc);
  return { nats, nc, registry, [Symbol.asyncDispose]: () => nats[Symbol.asyncDispose]() };
}

async function outcome(nc: NatsConnection, deploymentId: string, phases: string[]) {
  return await eventually(
    async () =>
      (await updateEvents(nc)).find((e) =>
        e.deploymentId === deploymentId && phases.includes(e.phase)
      ),
    90_000,
    `${deploymentId} ${phases.join("/")}`,
  );
}

Deno.test({
  name:
    "an agent update installs into the other slot, switches, and is kept once healthy; bad versions roll back",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using w = await world();
    const { nats, nc, registry } = w;
    await registry.publish(agentRecipe("0.1.0"), [{
      name: "firmware.tar",
      data: await firmware("good"),
    }]);
    // One build per architecture: the device takes its own (the other one would crash).
    const good = await firmware("good");
    const arch = Deno.build.arch === "aarch64" ? "aarch64" : "x86_64";
    const other = arch === "aarch64" ? "x86_64" : "aarch64";
    await registry.publish(agentRecipe("0.2.0"), [
      { name: `firmware-${arch}.tar`, data: good },
      { name: `firmware-${other}.tar`, data: await firmware("crash") },
    ]);
    await registry.publish(agentRecipe("0.3.0"), [{
      name: "firmware.tar",
      data: await firmware("crash"),
    }]);
    await registry.publish(agentRecipe("0.4.0", 4000), [{
      name: "firmware.tar",
      data: await firmware("hang"),
    }]);
    await using dev = await device(nc, nats, registry);
    await eventually(
      async () => (await lastHeartbeatVersion(nc)) === "0.1.0" || undefined,
      30_000,
      "0.1.0 up",
    );

    await dev.deploy("dep-upgrade-1", [{ component: "agent", version: "0.2.0" }]);
    const ok = await outcome(nc, "dep-upgrade-1", ["healthy", "failed", "rolled_back"]);
    assert.equal(ok.phase, "healthy", ok.reason ?? "");
    assert.equal(await lastHeartbeatVersion(nc), "0.2.0");
    let state = await dev.slots.read();
    assert.equal(state.active, "b");
    assert.equal(state.slots.a?.version, "0.1.0", "the old slot is kept");
    const phases = (await updateEvents(nc)).filter((e) => e.deploymentId === "dep-upgrade-1")
      .map((e) => e.phase);
    for (const p of ["downloading", "verifying", "installing", "switching", "healthy"]) {
      assert.ok(phases.includes(p as never), `phase ${p} reported: ${phases}`);
    }
    const verifying = (await updateEvents(nc)).find((e) =>
      e.deploymentId === "dep-upgrade-1" && e.phase === "verifying"
    );
    assert.equal(verifying?.bytesTotal, good.length, "only this architecture's build is fetched");

    await dev.deploy("dep-crashes-1", [{ component: "agent", version: "0.3.0" }]);
    const crashed = await outcome(nc, "dep-crashes-1", ["healthy", "failed", "rolled_back"]);
    assert.equal(crashed.phase, "rolled_back");
    assert.match(crashed.reason ?? "", /crash loop/);
    await eventually(
      async () => (await lastHeartbeatVersion(nc)) === "0.2.0" || undefined,
      30_000,
      "back on 0.2.0",
    );

    await dev.deploy("dep-hangs-01", [{ component: "agent", version: "0.4.0" }]);
    const hung = await outcome(nc, "dep-hangs-01", ["healthy", "failed", "rolled_back"]);
    assert.equal(hung.phase, "rolled_back");
    assert.match(hung.reason ?? "", /did not report healthy within 4000 ms/);
    state = await dev.slots.read();
    assert.equal(state.slots[state.active]?.version, "0.2.0");
    assert.equal(await lastHeartbeatVersion(nc), "0.2.0");
  },
});

Deno.test({
  name:
    "SIGKILL of the agent at each phase of an update (download, verify, install, switch, first start) still ends on the new version",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using w = await world();
    const { nats, nc, registry } = w;
    await registry.publish(agentRecipe("0.2.0"), [{
      name: "firmware.tar",
      data: await firmware("good"),
    }]);
    for (const phase of ["download", "verify", "install", "switch", "first_start"]) {
      await using dev = await device(nc, nats, registry, { VEND_FAULT: `update:${phase}` });
      const id = `dep-kill-${phase}`;
      await dev.deploy(id, [{ component: "agent", version: "0.2.0" }]);
      const done = await outcome(nc, id, ["healthy", "failed", "rolled_back"]);
      assert.equal(done.phase, "healthy", `${phase}: ${done.reason}`);
      // The kill happened, and the device runs the new version from the other slot.
      await Deno.stat(`${dev.slots.dir}/fault-${phase}.done`);
      const state = await dev.slots.read();
      assert.equal(state.slots[state.active]?.version, "0.2.0", phase);
      assert.equal(state.trial, null);
    }
  },
});

Deno.test({
  name:
    "a model update applies without restarting the agent; a conflicting dependency is refused before any download",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using w = await world();
    const { nats, nc, registry } = w;
    await registry.publish(agentRecipe("0.1.0"), [{
      name: "firmware.tar",
      data: await firmware("good"),
    }]);
    await registry.publish(agentRecipe("0.5.0"), [{
      name: "firmware.tar",
      data: await firmware("good"),
    }]);
    const model = (version: string, agent: string) => ({
      component: "detector",
      version,
      kind: "model",
      platform: { arch: ["x86_64", "aarch64"] },
      dependencies: { agent },
    });
    await registry.publish(model("1.0.0", "^0.1.0"), [{
      name: "model.onnx",
      data: new Uint8Array(300_000).fill(3),
    }]);
    await registry.publish(model("2.0.0", "^0.5.0"), [{
      name: "model.onnx",
      data: new Uint8Array(300_000).fill(4),
    }]);
    await using dev = await device(nc, nats, registry);
    await eventually(
      async () => (await lastHeartbeatVersion(nc)) === "0.1.0" || undefined,
      30_000,
      "0.1.0 up",
    );
    const started = () => dev.slots.read();
    const before = await started();

    await dev.deploy("dep-model-01", [{ component: "detector", version: "1.0.0" }]);
    const ok = await outcome(nc, "dep-model-01", ["healthy", "failed"]);
    assert.equal(ok.phase, "healthy", ok.reason ?? "");
    const kv = await new Kvm(nc).open(bucketIn(buckets.shadow, "local"));
    const reported = await eventually(
      async () => {
        const e = await kv.get(shadowKey("m001-a", "reported"));
        const r = e && shadow.parse(e.value);
        return r?.ok && r.value.state.components?.detector === "1.0.0" ? r.value : undefined;
      },
      10_000,
      "detector 1.0.0 reported",
    );
    assert.equal(reported.state.modelVersion, "1.0.0");
    assert.deepEqual(await started(), before, "no slot switch, no restart");
    assert.deepEqual(
      await Deno.readFile(`${dev.slots.dir}/components/detector/1.0.0/model.onnx`),
      new Uint8Array(300_000).fill(3),
    );

    const chunksBefore = [...Deno.readDirSync(`${dev.slots.dir}/chunks`)].length;
    await dev.deploy("dep-model-02", [{ component: "detector", version: "2.0.0" }]);
    const refused = await outcome(nc, "dep-model-02", ["healthy", "failed"]);
    assert.equal(refused.phase, "failed");
    assert.match(refused.reason ?? "", /needs agent \^0\.5\.0, agent would be 0\.1\.0/);
    assert.equal(
      [...Deno.readDirSync(`${dev.slots.dir}/chunks`)].length,
      chunksBefore,
      "nothing downloaded",
    );
    const phases = (await updateEvents(nc)).filter((e) => e.deploymentId === "dep-model-02").map((
      e,
    ) => e.phase);
    assert.deepEqual(phases, ["failed"]);
  },
});
