/**
 * Shadow evaluation on the device: a model deployed in shadow mode runs beside the live one on
 * the same crops, each session's outcome carries its decision and both models' cost, and only
 * the live one is charged; a candidate that does not take the live model's crops is refused
 * (the one running goes on); a restarted agent runs its candidate again; a target in stop mode stops it; the candidate deployed
 * live (promoted) stops running beside itself. A real nats-server, the default model, a simulated
 * cabinet filmed by synthetic cameras.
 */
import assert from "node:assert/strict";
import { ensureStreams } from "../cloud/nats/mod.ts";
import { ComponentRegistry } from "../cloud/updates/mod.ts";
import { Agent } from "../edge/mod.ts";
import { SimulatedHardware, SimulatedScene, SimulatedShopper } from "../edge/sim/mod.ts";
import type { PipelineEvent } from "../protocol/mod.ts";
import {
  desireDeployment,
  desirePlanogram,
  eventually,
  streamEvents,
  testAgentConfig,
  updateEvents,
} from "./edge_harness.ts";
import { ROOT, startTestNats } from "./harness.ts";

const MODEL = `${ROOT}models/build/default`;

type Completed = Extract<PipelineEvent, { type: "session_completed" }>;

Deno.test({
  name:
    "a model deployed in shadow mode decides each session beside the live one, is refused when it does not take its crops, runs again after a restart, stops when told and once promoted",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using nats = await startTestNats();
    const nc = await nats.connect();
    await ensureStreams(nc, "local");
    const registry = await ComponentRegistry.open(nc);
    const hardware = new SimulatedHardware();
    const scene = new SimulatedScene({ seed: 501 });
    const config = await testAgentConfig(nats, {
      cameras: ["cam-1", "cam-2"].map((cameraId) => ({
        cameraId,
        source: { kind: "synthetic" },
        width: 640,
        height: 480,
        fps: 10,
      })),
      recognition: { model: MODEL },
      ota: { trustedKeys: await registry.trustedKeys() },
    });
    const start = () => Agent.start(config, { hardware, scene, log: () => {} });
    let agent = await start();
    await desirePlanogram(nc, "m001-a");
    const stop = new AbortController();
    const shopping = new SimulatedShopper(hardware, scene).run(stop.signal);
    const completed = async () =>
      (await streamEvents(nc, "m001-a")).filter((e): e is Completed =>
        e.type === "session_completed"
      );
    const shop = async () => {
      const before = (await completed()).length;
      await eventually(() => (hardware.door.state === "closed" ? true : undefined), 10_000, "shut");
      await hardware.lock.unlock(config.unlockMs);
      return await eventually(async () => (await completed())[before], 30_000, "session");
    };

    // The same network as 2.0.0 (the candidate), and as 3.0.0 whose crops are another size.
    const manifest = JSON.parse(await Deno.readTextFile(`${MODEL}/model.json`));
    const onnx = await Deno.readFile(`${MODEL}/${manifest.file}`);
    const publish = (version: string, m: unknown) =>
      registry.publish({
        component: "slot-model",
        version,
        kind: "model",
        platform: { arch: ["x86_64", "aarch64"] },
      }, [
        { name: "model.json", data: new TextEncoder().encode(JSON.stringify(m)) },
        { name: manifest.file, data: onnx },
      ]);
    await publish("2.0.0", { ...manifest, version: "2.0.0" });
    const other = { ...manifest.input, mean: manifest.input.mean.map((x: number) => x / 2) };
    await publish("3.0.0", { ...manifest, version: "3.0.0", input: other });
    let desired = 1; // version 1 of the desired state brought the planogram
    const deploy = async (id: string, version: string, mode: "live" | "shadow" | "stop") => {
      await desireDeployment(nc, "m001-a", {
        version: ++desired,
        deploymentId: id,
        targets: [{ component: "slot-model", version, mode }],
      });
      return await eventually(
        async () =>
          (await updateEvents(nc)).find((e) =>
            e.deploymentId === id && (e.phase === "healthy" || e.phase === "failed")
          ),
        30_000,
        `${id} outcome`,
      );
    };

    const shadowed = await deploy("dep-shadow-2", "2.0.0", "shadow");
    assert.equal(shadowed.phase, "healthy", shadowed.reason ?? "");
    const first = await shop();
    assert.equal(first.modelVersion, "1.0.0", "the live model decides and is charged");
    assert.ok(first.candidate, "the candidate decided the session too");
    assert.equal(first.candidate.modelVersion, "2.0.0");
    // The same network on the same crops: the same cart, at a measured cost.
    assert.deepEqual(first.candidate.cart, first.cart);
    assert.ok(first.candidate.liveMs > 0 && first.candidate.candidateMs > 0);

    const refused = await deploy("dep-shadow-3", "3.0.0", "shadow");
    assert.equal(refused.phase, "failed");
    assert.match(refused.reason ?? "", /normalises crops by mean/);

    // Restarted: the candidate (2.0.0, not the refused one) runs again beside the live model.
    await agent[Symbol.asyncDispose]();
    agent = await start();
    const second = await shop();
    assert.equal(second.modelVersion, "1.0.0");
    assert.equal(second.candidate?.modelVersion, "2.0.0");

    // Stopped (the comparison found it worse): the live model alone decides.
    const stopped = await deploy("dep-stop-2", "2.0.0", "stop");
    assert.equal(stopped.phase, "healthy", stopped.reason ?? "");
    assert.equal(stopped.reason, "candidate stopped");
    const alone = await shop();
    assert.equal(alone.modelVersion, "1.0.0");
    assert.equal(alone.candidate, undefined);
    const recorded = JSON.parse(await Deno.readTextFile(`${config.dataDir}/ota/models.json`));
    assert.equal(recorded.candidate, undefined, JSON.stringify(recorded));

    // In shadow again, then promoted: 2.0.0 serves, and no longer runs beside itself.
    assert.equal((await deploy("dep-shadow-2-again", "2.0.0", "shadow")).phase, "healthy");
    const promoted = await deploy("dep-live-2", "2.0.0", "live");
    assert.equal(promoted.phase, "healthy", promoted.reason ?? "");
    const third = await shop();
    assert.equal(third.modelVersion, "2.0.0");
    assert.equal(third.candidate, undefined);

    stop.abort();
    await shopping;
    await agent[Symbol.asyncDispose]();
    await nc.close();
  },
});
