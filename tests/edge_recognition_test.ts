/**
 * Recognition in the running agent: a simulated cabinet filmed by synthetic cameras, the default
 * model deciding each door session's cart and its take/return events; a model update applied without a restart; a corrupt
 * model update refused while the previous model keeps serving.
 */
import assert from "node:assert/strict";
import { ensureStreams } from "../cloud/nats/mod.ts";
import { ComponentRegistry } from "../cloud/updates/mod.ts";
import { Agent } from "../edge/mod.ts";
import { SimulatedHardware, SimulatedScene, SimulatedShopper } from "../edge/sim/mod.ts";
import type { PipelineEvent } from "../protocol/mod.ts";
import { scenarioTruth } from "../pipeline/mod.ts";
import { cartText } from "../models/mod.ts";
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
    "the agent decides carts with the model; a model update serves without a restart, a corrupt one is refused",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using nats = await startTestNats();
    const nc = await nats.connect();
    await ensureStreams(nc, "local");
    const registry = await ComponentRegistry.open(nc);
    const hardware = new SimulatedHardware();
    const scene = new SimulatedScene({ seed: 500 });
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
    await using _agent = await Agent.start(config, { hardware, scene, log: () => {} });
    // The machine's planogram, as the cloud sends it: the device decides by it, the simulated
    // restocker fills the shelves by it.
    await desirePlanogram(nc, "m001-a");
    const stop = new AbortController();
    const shopping = new SimulatedShopper(hardware, scene).run(stop.signal);
    const completed = async () =>
      (await streamEvents(nc, "m001-a")).filter((e): e is Completed =>
        e.type === "session_completed"
      );
    const shop = async () => {
      const before = (await completed()).length;
      await eventually(
        () => (hardware.door.state === "closed" ? true : undefined),
        10_000,
        "closed",
      );
      await hardware.lock.unlock(config.unlockMs);
      const done = await eventually(
        async () => (await completed())[before],
        30_000,
        "session completed",
      );
      return { done, truth: cartText(scenarioTruth(scene.current.scenario).carts[0]!.entries()) };
    };

    // Three sessions: each decided exactly, or sent to review; never a wrong charge. The take and
    // return events published before each outcome add up to its cart.
    let exact = 0;
    let items = 0;
    for (let i = 0; i < 3; i++) {
      const { done, truth } = await shop();
      assert.equal(done.modelVersion, "1.0.0", done.review.reasons.join("; "));
      const got = cartText(done.cart.map((l) => [l.sku, l.qty] as const));
      assert.ok(done.review.required || got === truth, `charged ${got}, truth ${truth}`);
      if (done.review.required) continue;
      exact++;
      // Each charged line says how sure the device is of it (review policies use it).
      assert.deepEqual(
        Object.keys(done.lineConfidence ?? {}).sort(),
        done.cart.map((l) => l.sku).sort(),
      );
      const net = new Map<string, number>();
      for (const e of await streamEvents(nc, "m001-a")) {
        if (e.type !== "item_taken" && e.type !== "item_returned") continue;
        if (e.sessionId !== done.sessionId) continue;
        assert.ok(e.at >= done.openedAt && e.at <= done.closedAt, `event at ${e.at}`);
        net.set(e.sku, (net.get(e.sku) ?? 0) + (e.type === "item_taken" ? 1 : -1));
        items++;
      }
      assert.equal(cartText(net), got, "the session's take/return events add up to its cart");
    }
    assert.ok(exact >= 2, `${exact} of 3 sessions decided`);
    assert.ok(items >= 1, "take/return events were published");

    // A model update (same network, version 2.0.0) serves from the next session on.
    const manifest = JSON.parse(await Deno.readTextFile(`${MODEL}/model.json`));
    const onnx = await Deno.readFile(`${MODEL}/${manifest.file}`);
    const recipe = (version: string) => ({
      component: "slot-model",
      version,
      kind: "model",
      platform: { arch: ["x86_64", "aarch64"] },
    });
    const artifacts = (m: unknown) => [
      { name: "model.json", data: new TextEncoder().encode(JSON.stringify(m)) },
      { name: manifest.file, data: onnx },
    ];
    await registry.publish(recipe("2.0.0"), artifacts({ ...manifest, version: "2.0.0" }));
    // 3.0.0's manifest does not match its file: refused at load.
    await registry.publish(
      recipe("3.0.0"),
      artifacts({ ...manifest, version: "3.0.0", sha256: "0".repeat(64) }),
    );
    let desired = 1; // version 1 of the desired state brought the planogram
    const deploy = (deploymentId: string, version: string) =>
      desireDeployment(nc, "m001-a", {
        version: ++desired,
        deploymentId,
        targets: [{ component: "slot-model", version }],
      });
    const outcome = (id: string) =>
      eventually(
        async () =>
          (await updateEvents(nc)).find((e) =>
            e.deploymentId === id && (e.phase === "healthy" || e.phase === "failed")
          ),
        30_000,
        `${id} outcome`,
      );
    await deploy("dep-model-2", "2.0.0");
    const ok = await outcome("dep-model-2");
    assert.equal(ok.phase, "healthy", ok.reason ?? "");
    const second = await shop();
    assert.equal(second.done.modelVersion, "2.0.0");

    await deploy("dep-model-3", "3.0.0");
    const refused = await outcome("dep-model-3");
    assert.equal(refused.phase, "failed");
    assert.match(refused.reason ?? "", /slot_model.onnx is corrupt/);
    const third = await shop();
    assert.equal(third.done.modelVersion, "2.0.0", "the previous model keeps serving");

    stop.abort();
    await shopping;
    await nc.close();
  },
});
