/** The remote-update routes of the fleet API (real cloud service, real nats-server, real HTTP). */
import assert from "node:assert/strict";
import { startCloudService } from "../cloud/mod.ts";
import { SimulatedUpdateDevice } from "../edge/sim/mod.ts";
import { eventually } from "./edge_harness.ts";
import { startTestNats } from "./harness.ts";

const quiet = { log: () => {} };

Deno.test("operators publish versions and roll them out through the API; bad requests get problem+json naming the field", async () => {
  await using nats = await startTestNats();
  await using svc = await startCloudService(nats, { logger: quiet });
  const admin = await svc.tokens.issue({ subject: "admin-1", role: "admin" });
  const operator = await svc.tokens.issue({ subject: "op-1", role: "operator" });
  const call = async (method: string, path: string, token: string, body?: unknown) => {
    const res = await fetch(`${svc.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, type: res.headers.get("content-type"), body: await res.json() };
  };
  const recipe = {
    component: "detector",
    version: "1.0.0",
    kind: "model",
    platform: { arch: ["x86_64", "aarch64"] },
  };
  const artifacts = [{ name: "model.onnx", base64: btoa("weights") }];
  // Operators may not publish; admins may.
  assert.equal(
    (await call("POST", "/components/versions", operator, { recipe, artifacts })).status,
    403,
  );
  const pub = await call("POST", "/components/versions", admin, { recipe, artifacts });
  assert.equal(pub.status, 201, JSON.stringify(pub.body));
  const bad = await call("POST", "/components/versions", admin, {
    recipe: { ...recipe, version: "1.1.0", dependencies: { labels: "^2.0.0" } },
    artifacts,
  });
  assert.equal(bad.status, 400);
  assert.equal(bad.type, "application/problem+json");
  assert.equal(bad.body.field, "body.recipe.dependencies.labels");
  const badVersion = await call("POST", "/components/versions", admin, {
    recipe: { ...recipe, version: "one" },
    artifacts,
  });
  assert.equal(badVersion.body.field, "body.recipe.version");
  assert.deepEqual((await call("GET", "/components/detector/versions", operator)).body.versions, [
    "1.0.0",
  ]);
  const keys = (await call("GET", "/update-keys", operator)).body.keys;
  assert.equal(keys.length, 1);
  // A large artifact is streamed up first, then named in the version.
  const put = (token: string, path: string, bytes: Uint8Array<ArrayBuffer>) =>
    fetch(`${svc.url}${path}`, {
      method: "PUT",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/octet-stream" },
      body: bytes,
    });
  const blob = new Uint8Array(200_000).fill(9);
  const uploadPath = "/components/labels/versions/1.0.0/artifacts/labels.json";
  const denied = await put(operator, uploadPath, blob);
  assert.equal(denied.status, 403);
  await denied.body?.cancel();
  const up = await put(admin, uploadPath, blob);
  assert.equal(up.status, 201);
  assert.equal((await up.json()).bytes, 200_000);
  const labels = { ...recipe, component: "labels", kind: "config" };
  const noUpload = await call("POST", "/components/versions", admin, {
    recipe: { ...labels, version: "1.0.1" },
    artifacts: [{ name: "labels.json", uploaded: true }],
  });
  assert.equal(noUpload.status, 400);
  assert.equal(noUpload.body.field, "body.artifacts[0].uploaded");
  const fromUpload = await call("POST", "/components/versions", admin, {
    recipe: labels,
    artifacts: [{ name: "labels.json", uploaded: true }],
  });
  assert.equal(fromUpload.status, 201, JSON.stringify(fromUpload.body));

  // Register two devices and run simulated devices for them.
  for (const id of ["sim-01-a", "sim-02-a"]) {
    const r = await call("PUT", `/devices/${id}`, admin, {
      machineId: id.slice(0, 6),
      role: "primary",
      region: "local",
      groups: ["shop-a"],
    });
    assert.ok(r.status === 200 || r.status === 201, JSON.stringify(r.body));
  }
  const root = await Deno.makeTempDir({ prefix: "vend-update-api-" });
  await using _a = await SimulatedUpdateDevice.start(svc.nc, {
    deviceId: "sim-01-a",
    dir: `${root}/a`,
    trustedKeys: keys,
  });
  await using _b = await SimulatedUpdateDevice.start(svc.nc, {
    deviceId: "sim-02-a",
    dir: `${root}/b`,
    trustedKeys: keys,
  });
  await eventually(
    () => (svc.state.devices.size >= 2 ? true : undefined),
    5000,
    "devices registered",
  );

  const empty = await call("POST", "/deployments", operator, {
    targets: [{ component: "detector", version: "1.0.0" }],
    selector: { groups: ["nobody"] },
  });
  assert.equal(empty.status, 400);
  assert.equal(empty.body.field, "body.selector");
  const unknown = await call("POST", "/deployments", operator, {
    targets: [{ component: "detector", version: "3.0.0" }],
    selector: { groups: ["shop-a"] },
  });
  assert.equal(unknown.body.field, "body.targets[0].version");

  const created = await call("POST", "/deployments", operator, {
    targets: [{ component: "detector", version: "1.0.0" }],
    selector: { groups: ["shop-a"] },
    policy: { canary: 1, ratePerMinute: 600 },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.deepEqual(created.body.devices, ["sim-01-a", "sim-02-a"]);
  const done = await eventually(
    async () => {
      const g = await call("GET", `/deployments/${created.body.id}`, operator);
      return g.body.state === "completed" ? g.body : undefined;
    },
    30_000,
    "deployment completed",
  );
  assert.equal(done.counts.healthy, 2);
  const again = await call("POST", `/deployments/${created.body.id}/pause`, operator);
  assert.equal(again.status, 409);
  assert.equal((await call("GET", "/deployments/dep-none-0000", operator)).status, 404);

  // Shadow mode: only for a model; its comparison only for a shadow deployment.
  const notModel = await call("POST", "/deployments", operator, {
    targets: [{ component: "labels", version: "1.0.0", mode: "shadow" }],
    selector: { groups: ["shop-a"] },
  });
  assert.equal(notModel.status, 400);
  assert.equal(notModel.body.field, "body.targets[0].mode");
  assert.match(notModel.body.detail, /labels 1\.0\.0 is not a model/);
  const live = await call("GET", `/deployments/${created.body.id}/shadow`, operator);
  assert.equal(live.status, 409);
  assert.match(live.body.detail, /runs no model in shadow mode/);
  assert.equal((await call("GET", "/deployments/dep-none-0000/shadow", operator)).status, 404);
  const shadow = await call("POST", "/deployments", operator, {
    targets: [{ component: "detector", version: "1.0.0", mode: "shadow" }],
    selector: { devices: ["sim-01-a"] },
  });
  assert.equal(shadow.status, 201, JSON.stringify(shadow.body));
  assert.equal(shadow.body.targets[0].mode, "shadow");
  const compared = await call(
    "GET",
    `/deployments/${shadow.body.id}/shadow?minReviewed=5`,
    operator,
  );
  assert.equal(compared.status, 200, JSON.stringify(compared.body));
  assert.equal(compared.body.candidate, "1.0.0");
  assert.equal(compared.body.sessions, 0);
  assert.deepEqual(compared.body.verdict, {
    state: "collecting",
    reason: "0 of 5 reviewed sessions decided by both models",
  });
  const badMin = await call("GET", `/deployments/${shadow.body.id}/shadow?minReviewed=0`, operator);
  assert.equal(badMin.status, 400);
  assert.equal(badMin.body.field, "query.minReviewed");
});
