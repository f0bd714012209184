import assert from "node:assert/strict";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { type Browser, chromium } from "playwright-core";
import { createLoginCode, liveClients, type Logger, startCloudService } from "../cloud/mod.ts";
import { runSimulator } from "../cli/sim.ts";
import {
  Agent,
  GroundTruthCartDecider,
  SimulatedHardware,
  SimulatedScene,
  SimulatedShopper,
  SimulatedUpdateDevice,
} from "../edge/mod.ts";
import { buckets } from "../protocol/mod.ts";
import { eventually, testAgentConfig } from "./edge_harness.ts";
import { ROOT, startTestNats } from "./harness.ts";

const quiet: Logger = { log: () => {} };
const ARTIFACTS = `${ROOT}tests/artifacts`;

async function browser(): Promise<Browser & AsyncDisposable> {
  const b = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  return Object.assign(b, { [Symbol.asyncDispose]: () => b.close() });
}

async function loginLink(
  nc: NatsConnection,
  svc: {
    url: string;
    tokens: {
      issue(a: { subject: string; role: "viewer" | "operator" | "admin" }): Promise<string>;
    };
  },
  role: "viewer" | "operator" | "admin",
): Promise<string> {
  const service = await new Kvm(nc).create(buckets.service, { history: 1 });
  return `${svc.url}/login?code=${await createLoginCode(
    service,
    await svc.tokens.issue({ subject: `${role}-web`, role }),
  )}`;
}

Deno.test("dashboard: the fleet page shows a simulated device going offline within 3 s of it stopping", async () => {
  await Deno.mkdir(ARTIFACTS, { recursive: true });
  await using nats = await startTestNats();
  await using svc = await startCloudService(nats.url, { logger: quiet, offlineAfterMs: 1000 });
  await using nc = await nats.connect();
  const stop = new AbortController();
  const sim = runSimulator(nats.url, {
    devices: 3,
    intervalMs: 250,
    connections: 1,
    signal: stop.signal,
  });
  await using b = await browser();
  const page = await b.newPage();
  await page.goto(await loginLink(nc, svc, "admin"));
  await page.locator('tr[data-device="sim-1-a"] td.online').waitFor({ timeout: 10_000 });
  assert.equal(await page.locator('[data-count="online"]').textContent(), "3");
  await page.screenshot({ path: `${ARTIFACTS}/fleet.png`, fullPage: true });
  stop.abort();
  await sim;
  const stoppedAt = Date.now();
  await page.locator('tr[data-device="sim-1-a"] td.offline').waitFor({ timeout: 3000 });
  assert.ok(Date.now() - stoppedAt <= 3000);
  await page.locator('[data-count="offline"]', { hasText: "3" }).waitFor({ timeout: 3000 }); // the others follow
  await page.screenshot({ path: `${ARTIFACTS}/fleet-offline.png`, fullPage: true });
});

Deno.test("dashboard: pressing unlock on a device page opens the door shown there; a viewer sees no buttons", async () => {
  await using nats = await startTestNats();
  await using svc = await startCloudService(nats.url, { logger: quiet });
  await using nc = await nats.connect();
  const hardware = new SimulatedHardware();
  const scene = new SimulatedScene();
  const stop = new AbortController();
  const config = await testAgentConfig(nats.url, {
    cameras: [{
      cameraId: "cam-1",
      source: { kind: "synthetic" },
      width: 160,
      height: 120,
      fps: 5,
    }],
    telemetryIntervalMs: 500,
  });
  await using _agent = await Agent.start(config, {
    hardware,
    scene,
    cartDecider: new GroundTruthCartDecider(scene),
    log: () => {},
  });
  const shopping = new SimulatedShopper(hardware, scene).run(stop.signal);
  await eventually(
    () => (svc.state.statuses.get("m001-a") ? true : undefined),
    5000,
    "device online",
  );
  await using b = await browser();
  const page = await b.newPage();
  await page.goto(await loginLink(nc, svc, "operator"));
  await page.goto(`${svc.url}/devices/m001-a`);
  assert.equal(await page.locator("[data-door]").textContent(), "closed");
  await page.getByRole("button", { name: "Unlock" }).click();
  await page.locator("#command-result", { hasText: "unlock: succeeded" }).waitFor({
    timeout: 5000,
  });
  await page.locator("[data-door]", { hasText: "open" }).waitFor({ timeout: 5000 });
  await page.reload();
  assert.match(
    await page.locator("figcaption", { hasText: "CPU %" }).textContent() ?? "",
    /CPU %: \d+\.\d\d/,
    "telemetry charts",
  );
  // The latest snapshot of the camera shows in the page once taken.
  await page.getByRole("button", { name: "Snapshot cam-1" }).click();
  await page.locator("#command-result", { hasText: "snapshot: succeeded" }).waitFor({
    timeout: 10_000,
  });
  await page.waitForFunction(
    // A string: it runs in the browser, where `document` is.
    `(() => { const img = document.querySelector('img[data-camera="cam-1"]'); ` +
      `return img !== null && img.complete && img.naturalWidth === 160; })()`,
    undefined,
    { timeout: 5000 },
  );
  await page.screenshot({ path: `${ARTIFACTS}/device.png`, fullPage: true });
  stop.abort();
  await shopping;

  const viewerPage = await b.newPage();
  await viewerPage.goto(await loginLink(nc, svc, "viewer"));
  await viewerPage.goto(`${svc.url}/devices/m001-a`);
  assert.equal(await viewerPage.getByRole("button", { name: "Unlock" }).count(), 0);
  assert.match(
    await viewerPage.locator("#commands").textContent() ?? "",
    /can watch but not control/,
  );
  // The API refuses the viewer anyway.
  const refused = await viewerPage.evaluate(async () =>
    (await fetch("/devices/m001-a/commands", {
      method: "POST",
      headers: { "content-type": "application/json", "x-vend-csrf": "1" },
      body: JSON.stringify({ command: "lock", args: {} }),
    })).status
  );
  assert.equal(refused, 403);
});

Deno.test("dashboard: a used login link, a forged or stale session get the login page", async () => {
  await using nats = await startTestNats();
  await using svc = await startCloudService(nats.url, { logger: quiet });
  await using nc = await nats.connect();
  const link = await loginLink(nc, svc, "admin");
  await using b = await browser();
  const page = await b.newPage();
  await page.goto(link);
  assert.equal(new URL(page.url()).pathname, "/");
  const again = await (await b.newPage()).goto(link);
  assert.equal(again?.status(), 401);
  const context = await b.newContext();
  const host = new URL(svc.url).hostname;
  const stale = await svc.tokens.issue({ subject: "old", role: "admin" }, { ttlSeconds: -5 });
  for (const value of ["forged.token.value", stale]) {
    await context.clearCookies();
    await context.addCookies([{ name: "vs_session", value, domain: host, path: "/" }]);
    const p = await context.newPage();
    const res = await p.goto(`${svc.url}/`);
    assert.equal(res?.status(), 401);
    assert.match(await p.content(), /Sign in/);
  }
});

Deno.test("dashboard: live streams are cleaned up after 1,000 connects and disconnects", async () => {
  await using nats = await startTestNats();
  await using svc = await startCloudService(nats.url, { logger: quiet });
  const token = await svc.tokens.issue({ subject: "sse", role: "viewer" });
  // Streams of the earlier tests' pages may still be closing: they only count down.
  const baseline = liveClients.count;
  const open = async () => {
    const controller = new AbortController();
    const res = await fetch(`${svc.url}/live/`, {
      headers: { cookie: `vs_session=${token}` },
      signal: controller.signal,
    });
    assert.equal(res.status, 200);
    controller.abort();
    await res.body?.cancel().catch(() => {});
  };
  for (let i = 0; i < 50; i++) await open(); // warm up
  await eventually(
    () => (liveClients.count <= baseline ? true : undefined),
    20_000,
    "warm-up streams closed",
  );
  const before = Deno.memoryUsage().heapUsed;
  for (let i = 0; i < 1000; i++) await open();
  await eventually(
    () => (liveClients.count <= baseline ? true : undefined),
    30_000,
    "all streams closed",
  );
  const grown = (Deno.memoryUsage().heapUsed - before) / 2 ** 20;
  assert.ok(grown < 30, `heap grew ${grown.toFixed(1)} MB over 1,000 streams`);
  const metrics = await (await fetch(`${svc.url}/metrics`)).text();
  const stillOpen = Number(/vend_live_clients (\d+)/.exec(metrics)?.[1]);
  assert.ok(stillOpen <= baseline, `${stillOpen} streams still open`);
});

Deno.test("dashboard: a deployment's page shows each device's state and failure reason live, and pauses it", async () => {
  await Deno.mkdir(ARTIFACTS, { recursive: true });
  await using nats = await startTestNats();
  await using svc = await startCloudService(nats.url, { logger: quiet });
  await using nc = await nats.connect();
  const admin = await svc.tokens.issue({ subject: "admin-1", role: "admin" });
  const api = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(`${svc.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: r.status, body: await r.json() };
  };
  const ids = ["sim-01-a", "sim-02-a", "sim-03-a"];
  for (const id of ids) {
    const r = await api("PUT", `/devices/${id}`, {
      machineId: id.slice(0, 6),
      role: "primary",
      region: "local",
    });
    assert.ok(r.status < 300, JSON.stringify(r.body));
  }
  const recipe = {
    component: "detector",
    version: "2.0.0",
    kind: "model",
    platform: { arch: ["x86_64", "aarch64"] },
  };
  const pub = await api("POST", "/components/versions", {
    recipe,
    artifacts: [{ name: "model.onnx", base64: btoa("weights") }],
  });
  assert.equal(pub.status, 201, JSON.stringify(pub.body));
  const keys = (await api("GET", "/update-keys")).body.keys;
  const root = await Deno.makeTempDir({ prefix: "vend-dash-dep-" });
  const devices = await Promise.all(ids.map((id) =>
    SimulatedUpdateDevice.start(svc.nc, {
      deviceId: id,
      dir: `${root}/${id}`,
      trustedKeys: keys,
      // The second device cannot load this model.
      refuse: () => (id === "sim-02-a" ? "input shape [1,3,96,96] expected" : undefined),
    })
  ));
  await eventually(() => (svc.state.devices.size >= 3 ? true : undefined), 5000, "registered");
  // One canary, then one a minute: the third waits, so the deployment is still running.
  const dep = await api("POST", "/deployments", {
    targets: [{ component: "detector", version: "2.0.0" }],
    selector: { devices: ids },
    policy: { canary: 1, ratePerMinute: 1, growth: 1, failureThreshold: 1 },
  });
  assert.equal(dep.status, 201, JSON.stringify(dep.body));
  await using b = await browser();
  const page = await b.newPage();
  await page.goto(await loginLink(nc, svc, "operator"));
  await page.goto(`${svc.url}/deployments/${dep.body.id}`);
  // Live: the rows change without a reload.
  await page.locator('tr[data-device="sim-01-a"] td[data-status]', { hasText: "healthy" })
    .waitFor({ timeout: 20_000 });
  await page.locator('tr[data-device="sim-02-a"] td[data-status]', { hasText: "failed" })
    .waitFor({ timeout: 20_000 });
  assert.match(
    await page.locator('tr[data-device="sim-02-a"] td[data-reason]').textContent() ?? "",
    /input shape \[1,3,96,96\] expected/,
  );
  assert.equal(
    await page.locator('tr[data-device="sim-03-a"] td[data-status]').textContent(),
    "not started",
  );
  assert.equal(await page.locator('[data-count="failed"] b').textContent(), "1");
  await page.getByRole("button", { name: "Pause" }).click();
  await page.locator("#deployment-result", { hasText: "pause: done, the deployment is paused" })
    .waitFor({ timeout: 5000 });
  await page.locator("[data-state]", { hasText: "paused" }).waitFor({ timeout: 5000 });
  await page.screenshot({ path: `${ARTIFACTS}/deployment.png`, fullPage: true });
  // The list links to it.
  await page.goto(`${svc.url}/deployments`);
  assert.equal(
    await page.locator(`tr[data-deployment="${dep.body.id}"] td`).nth(1).textContent(),
    "paused",
  );
  // A viewer sees no steering buttons.
  const viewer = await b.newPage();
  await viewer.goto(await loginLink(nc, svc, "viewer"));
  await viewer.goto(`${svc.url}/deployments/${dep.body.id}`);
  assert.match(await viewer.locator("#steer").textContent() ?? "", /can watch but not steer/);
  await Promise.all(devices.map((d) => d[Symbol.asyncDispose]()));
});
