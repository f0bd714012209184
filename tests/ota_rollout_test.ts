/** Deployments across a fleet of simulated devices running the real updater (real nats-server). */
import assert from "node:assert/strict";
import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { Objm } from "@nats-io/obj";
import { ensureStreams } from "../cloud/nats/mod.ts";
import {
  ComponentError,
  ComponentRegistry,
  DeploymentService,
  judgeShadows,
  type ShadowScorer,
} from "../cloud/updates/mod.ts";
import { SimulatedUpdateDevice } from "../edge/sim/mod.ts";
import { buckets, newEnvelope } from "../protocol/mod.ts";
import type { Logger, LogLevel } from "../runtime/mod.ts";
import { eventually } from "./edge_harness.ts";
import { startTestNats } from "./harness.ts";

const model = (version: string) => ({
  component: "detector",
  version,
  kind: "model",
  platform: { arch: ["x86_64", "aarch64"] },
});

async function fleet(n: number, refuseFrom = Infinity, offline: string[] = []) {
  const nats = await startTestNats();
  const nc = await nats.connect();
  await ensureStreams(nc, "local");
  const registry = await ComponentRegistry.open(nc);
  for (const v of ["1.0.0", "2.0.0"]) {
    await registry.publish(model(v), [{
      name: "model.onnx",
      data: new Uint8Array(50_000).fill(v.charCodeAt(0)),
    }]);
  }
  const ids = Array.from({ length: n }, (_, i) => `sim-${String(i + 1).padStart(2, "0")}-a`);
  const root = await Deno.makeTempDir({ prefix: "vend-rollout-" });
  const trustedKeys = await registry.trustedKeys();
  const devices = await Promise.all(ids.map((deviceId, i) =>
    SimulatedUpdateDevice.start(nc, {
      deviceId,
      dir: `${root}/${deviceId}`,
      trustedKeys,
      refuse: (r) =>
        r.version === "2.0.0" && i + 1 >= refuseFrom
          ? "input shape [1,3,96,96] expected"
          : undefined,
    })
  ));
  let now = Date.now();
  const clock = { advance: (ms: number) => (now += ms) };
  const service = await DeploymentService.open(nc, {
    region: "local",
    now: () => now,
    devices: () => [
      ...ids.map((id, i) => ({
        id,
        region: "local",
        tags: i % 2 ? ["odd"] : [],
        groups: ["shop-a"],
      })),
      // Registered, but never online (no simulator).
      ...offline.map((id) => ({ id, region: "far", tags: [], groups: [] })),
    ],
  });
  const stop = new AbortController();
  const running = service.run(nc, stop.signal, { tickMs: 100 });
  return {
    nc,
    ids,
    devices,
    service,
    clock,
    async [Symbol.asyncDispose]() {
      stop.abort();
      await running;
      await service[Symbol.asyncDispose]();
      await Promise.all(devices.map((d) => d[Symbol.asyncDispose]()));
      await nats[Symbol.asyncDispose]();
    },
  };
}

const until = <T>(what: string, fn: () => Promise<T | undefined>) => eventually(fn, 20_000, what);

Deno.test("a deployment goes to the canary first, then at a growing rate, and completes", async () => {
  await using f = await fleet(12);
  const d = await f.service.create({
    targets: [{ component: "detector", version: "1.0.0" }],
    selector: { groups: ["shop-a"] },
    policy: { canary: 2, ratePerMinute: 3, growth: 2, failureThreshold: 0.2 },
  });
  assert.equal(d.devices.length, 12);
  const get = () => f.service.get(d.id);
  // Only the canaries start; once they are healthy, one more at once (the rate's first share).
  const canary = await until("canaries healthy", async () => {
    const g = await get();
    return g && g.counts.healthy >= 2 && g.canaryDoneAt !== null ? g : undefined;
  });
  assert.ok(canary.assigned <= 3, `assigned ${canary.assigned}`);
  // A minute after the canaries: 3 more; the next minute 6 more (the rate doubled).
  f.clock.advance(60_000);
  const one = await until("first minute", async () => {
    const g = await get();
    return g && g.counts.healthy === 5 ? g : undefined;
  });
  assert.equal(one.assigned, 5, "2 canaries + 3");
  f.clock.advance(60_000);
  const two = await until("second minute", async () => {
    const g = await get();
    return g && g.counts.healthy === 11 ? g : undefined;
  });
  assert.equal(two.assigned, 11, "2 canaries + 3 + 6");
  assert.equal(two.counts.unassigned, 1);
  assert.equal(two.state, "running");
  f.clock.advance(60_000);
  const done = await until("completed", async () => {
    const g = await get();
    return g?.state === "completed" ? g : undefined;
  });
  assert.equal(done.counts.healthy, 12);
  // Another cloud instance opened now reads the same counts from NATS (no state of its own).
  await using other = await DeploymentService.open(f.nc, { region: "local", devices: () => [] });
  assert.deepEqual((await other.get(d.id))?.counts, done.counts);
});

Deno.test("a deployment past its failure threshold aborts and rolls the updated devices back", async () => {
  await using f = await fleet(8, 4); // devices 4-8 refuse 2.0.0
  const first = await f.service.create({
    targets: [{ component: "detector", version: "1.0.0" }],
    selector: { regions: ["local"] },
    policy: { canary: 0, ratePerMinute: 1000, failureThreshold: 0 },
  });
  f.clock.advance(60_000);
  await until(
    "1.0.0 everywhere",
    async () => (await f.service.get(first.id))?.state === "completed" || undefined,
  );
  const d = await f.service.create({
    targets: [{ component: "detector", version: "2.0.0" }],
    selector: { regions: ["local"] },
    policy: { canary: 3, ratePerMinute: 1000, failureThreshold: 0.2 },
  });
  await until(
    "canaries",
    async () => (await f.service.get(d.id))?.counts.healthy === 3 || undefined,
  );
  f.clock.advance(60_000);
  const aborted = await until("aborted", async () => {
    const g = await f.service.get(d.id);
    return g?.state === "aborted" ? g : undefined;
  });
  assert.match(aborted.reason!, /devices failed \(threshold 0.2\)/);
  const failed = await f.service.device(d.id, "sim-04-a");
  assert.equal(failed?.status, "failed");
  assert.match(failed?.reason ?? "", /input shape/);
  // The canaries that took 2.0.0 get a rollback deployment back to 1.0.0. The clock moves on at
  // every look: on a loaded machine the rollback may be created after a single step (its devices
  // then wait for time to pass, and it never would).
  const rb = await until("rollback completed", async () => {
    f.clock.advance(60_000);
    const g = await f.service.get(`${d.id}-rb0`);
    return g?.state === "completed" ? g : undefined;
  });
  assert.deepEqual(rb.targets, [{ component: "detector", version: "1.0.0" }]);
  // The canaries, and any device still downloading or installing 2.0.0 when the deployment
  // aborted (on a loaded machine some are: they may yet have installed it).
  const canaries = ["sim-01-a", "sim-02-a", "sim-03-a"];
  assert.deepEqual(rb.devices.filter((id) => canaries.includes(id)), canaries);
  const late = ["sim-04-a", "sim-05-a", "sim-06-a", "sim-07-a", "sim-08-a"];
  for (const id of rb.devices) {
    assert.ok(canaries.includes(id) || late.includes(id), `${id} was not in the deployment`);
  }
  assert.equal(rb.counts.healthy, rb.devices.length, JSON.stringify(rb.counts));
});

Deno.test("deployments refuse unknown versions and empty selectors, and pause, resume, cancel and supersede", async () => {
  await using f = await fleet(4, Infinity, ["sim-99-a"]);
  const refuse = (spec: Parameters<typeof f.service.create>[0], field: string) =>
    assert.rejects(
      () => f.service.create(spec),
      (e) => e instanceof ComponentError && e.field === field,
      field,
    );
  const one = [{ component: "detector", version: "1.0.0" }];
  await refuse({
    targets: [{ component: "detector", version: "9.9.9" }],
    selector: { regions: ["local"] },
  }, "targets[0].version");
  await refuse({ targets: one, selector: { groups: ["nobody"] } }, "selector");
  await refuse(
    { targets: one, selector: { regions: ["local"] }, policy: { growth: 0 } },
    "policy.growth",
  );
  await refuse({ targets: [], selector: { regions: ["local"] } }, "targets");
  const d = await f.service.create({
    targets: one,
    selector: { tags: ["odd"] },
    policy: { canary: 1, ratePerMinute: 1 },
  });
  assert.deepEqual(d.devices, ["sim-02-a", "sim-04-a"]);
  await f.service.pause(d.id);
  // The rollout may have started its canary before the pause landed (a loaded machine did):
  // paused, no one more starts however much time passes.
  const atPause = (await f.service.get(d.id))!.assigned;
  assert.ok(atPause <= 1, `at most the canary before the pause, got ${atPause}`);
  f.clock.advance(120_000);
  await new Promise((r) => setTimeout(r, 400));
  assert.equal((await f.service.get(d.id))?.assigned, atPause, "paused: nobody more starts");
  await assert.rejects(() => f.service.pause(d.id), /Cannot make a paused deployment paused/);
  await f.service.resume(d.id);
  f.clock.advance(60_000);
  await until("completed", async () => {
    f.clock.advance(60_000);
    return (await f.service.get(d.id))?.state === "completed" || undefined;
  });
  // A newer deployment supersedes one still waiting on a device (offline: it never starts).
  const older = await f.service.create({
    targets: [{ component: "detector", version: "2.0.0" }],
    selector: { devices: ["sim-99-a"] },
    policy: { canary: 1, ratePerMinute: 1 },
  });
  await until(
    "queued",
    async () => (await f.service.device(older.id, "sim-99-a"))?.status === "queued" || undefined,
  );
  const newer = await f.service.create({
    targets: one,
    selector: { devices: ["sim-99-a"] },
    policy: { canary: 1, ratePerMinute: 1 },
  });
  await until(
    "newer queued",
    async () => (await f.service.device(newer.id, "sim-99-a"))?.status === "queued" || undefined,
  );
  // The older one is marked superseded just after the newer one is queued on the device.
  await until(
    "older superseded",
    async () =>
      (await f.service.device(older.id, "sim-99-a"))?.status === "superseded" || undefined,
  );
  // Cancelling takes the deployment back from a device that has not started it.
  const cancelled = await f.service.cancel(newer.id);
  assert.equal(cancelled.state, "cancelled");
  assert.equal((await f.service.device(newer.id, "sim-99-a"))?.status, "cancelled");
});

Deno.test("a device refuses a version with a corrupted chunk, a truncated artifact or a bad signature, and keeps its own", async () => {
  await using f = await fleet(1);
  const install = async (version: string) => {
    const d = await f.service.create({
      targets: [{ component: "detector", version }],
      selector: { devices: ["sim-01-a"] },
      policy: { canary: 1 },
    });
    return await until(`${version} decided`, async () => {
      const e = await f.service.device(d.id, "sim-01-a");
      return e && (e.status === "healthy" || e.status === "failed") ? e : undefined;
    });
  };
  assert.equal((await install("1.0.0")).status, "healthy");
  const registry = await ComponentRegistry.open(f.nc);
  const chunks = (v: string) =>
    registry.get("detector", v).then((s) =>
      JSON.parse(s!.manifest).artifacts[0].chunks as Array<{ sha256: string }>
    );
  const store = await new Objm(f.nc).open("artifacts");
  // A corrupted chunk: version 2.0.0's chunk holds other bytes.
  await store.putBlob({ name: (await chunks("2.0.0"))[0]!.sha256 }, new Uint8Array(10).fill(9));
  const corrupt = await install("2.0.0");
  assert.equal(corrupt.status, "failed");
  assert.match(corrupt.reason ?? "", /corrupt/);
  // A truncated artifact: a chunk is gone.
  await registry.publish(model("3.0.0"), [{
    name: "model.onnx",
    data: new Uint8Array(50_000).fill(7),
  }]);
  await store.delete((await chunks("3.0.0"))[0]!.sha256);
  const truncated = await install("3.0.0");
  assert.equal(truncated.status, "failed");
  assert.match(truncated.reason ?? "", /missing/);
  // A bad signature: the stored manifest was altered after signing.
  await registry.publish(model("4.0.0"), [{
    name: "model.onnx",
    data: new Uint8Array(50_000).fill(8),
  }]);
  const kv = await new Kvm(f.nc).open("components");
  const signed = JSON.parse(new TextDecoder().decode((await kv.get("detector.4.0.0"))!.value));
  await kv.put(
    "detector.4.0.0",
    JSON.stringify({ ...signed, manifest: signed.manifest.replace('"hot"', '"restart"') }),
  );
  const forged = await install("4.0.0");
  assert.equal(forged.status, "failed");
  assert.match(forged.reason ?? "", /does not match/);
  // Through all of it the device kept 1.0.0.
  const reported = await until("reported", async () => {
    const e = await (await new Kvm(f.nc).open("shadow_local")).get("sim-01-a.reported");
    return e ? JSON.parse(new TextDecoder().decode(e.value)).state.components : undefined;
  });
  assert.equal(reported.detector, "1.0.0");
});

Deno.test("a device's progress never moves it back, and progress for an entry not seen yet is asked again only in a supercluster", async () => {
  await using f = await fleet(1);
  const d = await f.service.create({
    targets: [{ component: "detector", version: "1.0.0" }],
    selector: { devices: ["sim-01-a"] },
    policy: { canary: 1 },
  });
  await until(
    "healthy",
    async () => (await f.service.device(d.id, "sim-01-a"))?.status === "healthy" || undefined,
  );
  const progress = (phase: "downloading" | "installing", deploymentId = d.id) => ({
    ...newEnvelope(),
    deviceId: "sim-01-a",
    type: "update_progress" as const,
    deploymentId,
    component: "detector",
    version: "1.0.0",
    phase,
    bytesDone: 0,
    bytesTotal: 50_000,
    bytesSaved: 0,
    reason: null,
  });
  // Redelivered late (as a supercluster instance does while its mirror catches up): ignored.
  assert.equal(await f.service.record(progress("downloading")), true);
  assert.equal((await f.service.device(d.id, "sim-01-a"))?.status, "healthy");
  // No entry for it: on one server nothing will ever hold one; in a supercluster a mirror may.
  const unknown = progress("installing", "dep-unknown");
  assert.equal(await f.service.record(unknown), true);
  await using regional = await DeploymentService.open(f.nc, {
    region: "local",
    regional: true,
    devices: () => [],
  });
  assert.equal(await regional.record(unknown), false);
  assert.equal(await regional.device("dep-unknown", "sim-01-a"), undefined);
});

/** A logger that keeps what it is told. */
function memoryLogger() {
  const lines: Array<{ level: LogLevel; msg: string; fields: Record<string, unknown> }> = [];
  const logger: Logger = {
    log: (level, msg, fields = {}) => void lines.push({ level, msg, fields }),
  };
  return { lines, logger };
}

/** A server with version 1.0.0 published, and a deployment service of one device on it. */
async function oneDevice(
  options: { jsm?: (nc: Parameters<typeof jetstreamManager>[0]) => Promise<JetStreamManager> },
) {
  const nats = await startTestNats();
  const nc = await nats.connect();
  await ensureStreams(nc, "local");
  const registry = await ComponentRegistry.open(nc);
  await registry.publish(model("1.0.0"), [{ name: "model.onnx", data: new Uint8Array(1000) }]);
  const { lines, logger } = memoryLogger();
  const service = await DeploymentService.open(nc, {
    region: "local",
    logger,
    // Another stream than the store itself: each step first checks the artifacts are there.
    artifactsStream: "OBJ_artifacts_mirror",
    jsm: await (options.jsm ?? jetstreamManager)(nc),
    devices: () => [{ id: "sim-01-a", region: "local", tags: [], groups: [] }],
  });
  const d = await service.create({
    targets: [{ component: "detector", version: "1.0.0" }],
    selector: { devices: ["sim-01-a"] },
    policy: { canary: 1 },
  });
  return {
    nc,
    service,
    d,
    lines,
    stepFailures: () => lines.filter((l) => l.msg.startsWith("a deployment step failed")),
    async [Symbol.asyncDispose]() {
      await service[Symbol.asyncDispose]();
      await nats[Symbol.asyncDispose]();
    },
  };
}

Deno.test("a deployment step that fails for another reason than a revision conflict is logged, and tried again", async () => {
  // The region's artifacts mirror does not exist: every step fails reading it.
  await using f = await oneDevice({});
  await f.service.tick(); // a failed step does not fail the tick
  await f.service.tick();
  const failures = f.stepFailures();
  assert.equal(failures.length, 2, JSON.stringify(f.lines));
  assert.equal(failures[0]!.level, "warn");
  assert.equal(failures[0]!.fields.deployment, f.d.id);
  assert.match(String(failures[0]!.fields.error), /stream not found/i);
  assert.equal((await f.service.get(f.d.id))?.assigned, 0, "nothing started");
});

Deno.test("a deployment step that loses its compare-and-swap to another instance gives up quietly, until the next tick", async () => {
  let moved = 0;
  let id = "";
  // The mirror check answers "there", but only after another instance (simulated: a write of
  // the same deployment) moved the deployment on: the step's write then loses on its revision.
  await using f = await oneDevice({
    jsm: (nc) => {
      const deployments = new Kvm(nc).open(buckets.deployments);
      return Promise.resolve({
        streams: {
          getMessage: async () => {
            if (moved++ === 0) {
              const kv = await deployments;
              await kv.put(id, (await kv.get(id))!.value);
            }
            return { seq: 1, data: new Uint8Array(0) };
          },
        },
      } as unknown as JetStreamManager);
    },
  });
  id = f.d.id;
  await f.service.tick();
  assert.equal(moved, 1, "the step reached its write");
  assert.equal((await f.service.get(id))?.assigned, 0, "the step's write lost");
  assert.deepEqual(f.stepFailures(), [], "a lost compare-and-swap is not a failure");
  await f.service.tick();
  assert.equal((await f.service.get(id))?.assigned, 1, "the next tick starts the device");
  assert.equal((await f.service.device(id, "sim-01-a"))?.status, "queued");
  assert.deepEqual(f.stepFailures(), []);
});

Deno.test("a shadow deployment is promoted through a rollout when its candidate is as good, and stopped on its devices when worse", async () => {
  await using f = await fleet(3);
  const shadowOf = (version: string, promotion?: { minReviewed?: number }) =>
    f.service.create({
      targets: [{ component: "detector", version, mode: "shadow" }],
      selector: { groups: ["shop-a"] },
      policy: { canary: 1, ratePerMinute: 600 },
      ...(promotion ? { promotion } : {}),
    });
  // The rollout's clock moves a minute each look (after the canary, the rate lets all go).
  const completed = (id: string) =>
    until(`${id} completed`, async () => {
      f.clock.advance(60_000);
      const g = await f.service.get(id);
      return g?.state === "completed" ? g : undefined;
    });
  // Only a deployment with a candidate has a comparison, and it needs at least one review.
  await assert.rejects(
    f.service.create({
      targets: [{ component: "detector", version: "2.0.0" }],
      selector: { groups: ["shop-a"] },
      promotion: { minReviewed: 5 },
    }),
    (e) => e instanceof ComponentError && e.field === "promotion",
  );
  await assert.rejects(
    shadowOf("2.0.0", { minReviewed: 0 }),
    (e) => e instanceof ComponentError && e.field === "promotion.minReviewed",
  );

  const shadow = await shadowOf("2.0.0", { minReviewed: 3 });
  assert.deepEqual(shadow.promotion, {
    minReviewed: 3,
    state: "comparing",
    reason: null,
    followUp: null,
    decidedAt: null,
  });
  await completed(shadow.id);
  for (const d of f.devices) {
    assert.equal((await d.updater.models.read()).candidate?.version, "2.0.0", d.deviceId);
  }
  const asked: Parameters<ShadowScorer>[0][] = [];
  let verdict: "collecting" | "promote" | "stop" | "fail" = "collecting";
  const score: ShadowScorer = (q) => {
    asked.push(q);
    if (verdict === "fail") return Promise.reject(new Error("the samples are not there"));
    return Promise.resolve({ verdict: { state: verdict, reason: `said ${verdict}` } });
  };
  const lines: string[] = [];
  const logger = { log: (_l: LogLevel, msg: string) => void lines.push(msg) } as Logger;
  // Too few reviews: nothing happens; a scorer that fails is logged, and asked again next round.
  assert.deepEqual(await judgeShadows(f.service, { score, logger }), []);
  verdict = "fail";
  assert.deepEqual(await judgeShadows(f.service, { score, logger }), []);
  assert.match(lines.join("\n"), /judging a shadow deployment failed/);
  assert.equal((await f.service.get(shadow.id))?.promotion?.state, "comparing");
  assert.deepEqual(asked[0], {
    candidate: "2.0.0",
    deviceIds: new Set(f.ids),
    since: shadow.createdAt,
    minReviewed: 3,
  });

  // As good: the candidate goes live on the same devices, canary first, under the same policy.
  verdict = "promote";
  const [promoted] = await judgeShadows(f.service, { score, logger });
  assert.equal(promoted?.id, shadow.id);
  assert.equal(promoted.promotion?.state, "promoted");
  assert.equal(promoted.promotion?.reason, "said promote");
  assert.equal(typeof promoted.promotion?.decidedAt, "number");
  const live = await completed(promoted.promotion!.followUp!);
  assert.equal(live.promotionOf, shadow.id);
  assert.deepEqual(live.targets, [{ component: "detector", version: "2.0.0" }]);
  assert.deepEqual(live.devices, shadow.devices);
  assert.equal(live.policy.canary, 1);
  for (const d of f.devices) {
    const roles = await d.updater.models.read();
    assert.equal(roles.live?.version, "2.0.0", d.deviceId);
    assert.equal(roles.candidate, undefined, "promoted, it no longer runs beside itself");
  }
  // Decided: it is not judged again, and a second verdict is refused.
  const before = asked.length;
  assert.deepEqual(await judgeShadows(f.service, { score, logger }), []);
  assert.equal(asked.length, before);
  await assert.rejects(
    f.service.conclude(shadow.id, { state: "stop", reason: "late" }),
    (e) => e instanceof ComponentError && e.field === "state",
  );

  // Worse: the candidate stops on every device at once, the live model goes on.
  const worse = await shadowOf("1.0.0");
  assert.equal(worse.promotion?.minReviewed, 20, "the default");
  await completed(worse.id);
  verdict = "stop";
  // Two instances judging at once: one follow-up, and the other finds the verdict given.
  const both = await Promise.allSettled([
    f.service.conclude(worse.id, { state: "stop", reason: "2 wrong charges" }),
    f.service.conclude(worse.id, { state: "stop", reason: "2 wrong charges" }),
  ]);
  assert.ok(both.some((r) => r.status === "fulfilled"), JSON.stringify(both));
  for (const r of both) {
    if (r.status === "rejected") assert.equal((r.reason as ComponentError).field, "state");
  }
  const stopped = (await f.service.get(worse.id))!;
  assert.equal(stopped.promotion?.state, "stopped");
  const stopping = await completed(stopped.promotion!.followUp!);
  assert.deepEqual(stopping.targets, [{ component: "detector", version: "1.0.0", mode: "stop" }]);
  assert.equal(stopping.policy.canary, 0);
  for (const d of f.devices) {
    const roles = await d.updater.models.read();
    assert.equal(roles.candidate, undefined, d.deviceId);
    assert.equal(roles.live?.version, "2.0.0", d.deviceId);
  }
});
