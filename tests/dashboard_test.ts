import assert from "node:assert/strict";
import { jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { Objm } from "@nats-io/obj";
import type { NatsConnection } from "@nats-io/nats-core";
import { type Browser, chromium } from "playwright-core";
import { type Logger } from "../runtime/mod.ts";
import { createLoginCode } from "../cloud/auth/mod.ts";
import { KvSandboxStore } from "../cloud/checkout/mod.ts";
import { startCloudService } from "../cloud/mod.ts";
import { liveClients } from "../cloud/ui/mod.ts";
import { runSimulator } from "../cli/sim.ts";
import { SimulatedUpdateDevice } from "../edge/sim/mod.ts";
import { SandboxProvider } from "../payments/mod.ts";
import { bucketIn, buckets, pipelineEvent } from "../protocol/mod.ts";
import {
  calibrationReported,
  eventually,
  simulatedCabinet,
  STANDARD_SLOTS,
} from "./edge_harness.ts";
import { apiClient, ROOT, startTestNats } from "./harness.ts";
import { sessionCompleted, simulatedMachine } from "./payments_harness.ts";

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
  await using svc = await startCloudService(nats, { logger: quiet, offlineAfterMs: 1000 });
  await using nc = await nats.connect();
  const stop = new AbortController();
  const sim = runSimulator({
    url: nats.url,
    credentialsFile: await nats.simulatorCredentials(),
    caFile: nats.caFile,
  }, {
    commandKeys: [(await nats.commandKey()).trusted],
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
  // Every region's counts: this one's live.
  await page.locator('tr[data-region-row="local"] [data-online]', { hasText: "3" })
    .waitFor({ timeout: 5000 });
  assert.equal(
    await page.locator('tr[data-region-row="local"] [data-source]').getAttribute("data-source"),
    "live",
  );
  await page.screenshot({ path: `${ARTIFACTS}/fleet.png`, fullPage: true });
  // The region and version cards filter the table (on the server).
  await page.locator('[data-version="0.1.0"]').click();
  await page.waitForURL(/version=0\.1\.0/);
  assert.equal(await page.locator("#rows tr").count(), 3);
  await page.goto(`${svc.url}/?version=9.9.9`);
  assert.equal(await page.locator("#rows tr").count(), 0);
  await page.locator('[data-region="local"]').click();
  await page.waitForURL(/region=local/);
  assert.equal(await page.locator("#rows tr").count(), 3);
  stop.abort();
  await sim;
  const stoppedAt = Date.now();
  await page.locator('tr[data-device="sim-1-a"] td.offline').waitFor({ timeout: 3000 });
  assert.ok(Date.now() - stoppedAt <= 3000);
  await page.locator('[data-count="offline"]', { hasText: "3" }).waitFor({ timeout: 3000 }); // the others follow
  await page.locator('tr[data-region-row="local"] [data-online]', { hasText: "0" })
    .waitFor({ timeout: 3000 });
  await page.screenshot({ path: `${ARTIFACTS}/fleet-offline.png`, fullPage: true });
});

Deno.test("dashboard: pressing unlock on a device page opens the door shown there; a viewer sees no buttons", async () => {
  await using nats = await startTestNats();
  await using svc = await startCloudService(nats, { logger: quiet });
  await using nc = await nats.connect();
  await using cabinet = await simulatedCabinet(nats, {
    config: { telemetryIntervalMs: 500 },
  });
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
  await cabinet[Symbol.asyncDispose]();

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
  await using svc = await startCloudService(nats, { logger: quiet });
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
  await using svc = await startCloudService(nats, { logger: quiet });
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
  await using svc = await startCloudService(nats, { logger: quiet });
  await using nc = await nats.connect();
  const admin = await svc.tokens.issue({ subject: "admin-1", role: "admin" });
  const api = apiClient(svc.url, admin);
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
  assert.equal(await viewer.locator("#shadow").count(), 0, "no comparison for a live deployment");
  // A shadow deployment's page compares the candidate with the live model, plotted.
  // (Only one with a candidate is promoted or stopped on a comparison.)
  const noCandidate = await api("POST", "/deployments", {
    targets: [{ component: "detector", version: "2.0.0" }],
    selector: { devices: ["sim-01-a"] },
    promotion: { minReviewed: 5 },
  });
  assert.equal(noCandidate.status, 400);
  assert.equal(noCandidate.body.field, "body.promotion");
  const shadow = await api("POST", "/deployments", {
    targets: [{ component: "detector", version: "2.0.0", mode: "shadow" }],
    selector: { devices: ["sim-01-a"] },
    promotion: { minReviewed: 5 },
  });
  assert.equal(shadow.status, 201, JSON.stringify(shadow.body));
  assert.equal(shadow.body.promotion.state, "comparing");
  await viewer.goto(`${svc.url}/deployments/${shadow.body.id}`);
  assert.equal(
    await viewer.locator("#shadow-verdict").textContent(),
    "collecting: 0 of 5 reviewed sessions decided by both models",
  );
  assert.equal(await viewer.locator("#shadow-promotion").getAttribute("data-state"), "comparing");
  assert.match(await viewer.locator("#shadow-promotion").textContent() ?? "", /until 5 of its/);
  assert.equal(
    await viewer.locator('#shadow tr[data-model="candidate"] td').first().textContent(),
    "candidate ",
  );
  assert.equal(await viewer.locator("#shadow-plot g[data-figure]").count(), 5);
  await Promise.all(devices.map((d) => d[Symbol.asyncDispose]()));
});

Deno.test("dashboard: a flagged session is corrected and approved in the review queue, its clip plays, and the capture follows", async () => {
  await Deno.mkdir(ARTIFACTS, { recursive: true });
  await using nats = await startTestNats();
  await using svc = await startCloudService(nats, { logger: quiet });
  await using nc = await nats.connect();
  await using machine = await simulatedMachine(nc, { machineId: "m001" });
  const token = await svc.tokens.issue({ subject: "app-backend", role: "admin" });
  const api = apiClient(svc.url, token);
  await api("PUT", "/devices/m001-a", { machineId: "m001", role: "primary", region: "local" });
  const customer = await api("POST", "/customers", { email: "ada@example.com" });
  await api("POST", `/customers/${customer.body.customerId}/payment-methods`, {
    token: "pm_sandbox_visa",
  });
  const start = async () => {
    const s = await api("POST", "/payments/sessions", {
      customerId: customer.body.customerId,
      machineId: "m001",
    });
    assert.equal(s.body.state, "unlocked", JSON.stringify(s.body));
    return s.body.sessionId as string;
  };
  const prices = await api("GET", "/machines/m001/prices");
  const price = (sku: string) =>
    (prices.body.items as Array<{ sku: string; unitPrice: number }>).find((i) => i.sku === sku)!
      .unitPrice;
  const id = await start();
  assert.deepEqual(machine.unlocked, [id]);

  await using b = await browser();
  const page = await b.newPage();
  await page.goto(await loginLink(nc, svc, "operator"));
  await page.goto(`${svc.url}/sessions`);
  assert.match(await page.locator("#queue").textContent() ?? "", /Nothing to review/);

  // The door closes: the machine uploads the session's clip and sends an unsure cart.
  const dir = await Deno.makeTempDir();
  const mp4 = `${dir}/cam-1-0.mp4`;
  const ff = await new Deno.Command("ffmpeg", {
    args: [
      ...["-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=10", "-t", "2"],
      ...["-c:v", "libx264", "-pix_fmt", "yuv420p", "-movflags", "+faststart", mp4],
    ],
  }).output();
  assert.equal(ff.code, 0, new TextDecoder().decode(ff.stderr));
  const clips = await new Objm(nc).create(bucketIn(buckets.clips, "local"));
  await clips.putBlob({ name: `m001-a/${id}/cam-1-0.mp4` }, await Deno.readFile(mp4));
  await Deno.remove(dir, { recursive: true });
  await jetstream(nc).publish(
    machine.subject,
    pipelineEvent.encode({
      ...sessionCompleted(id, [{ sku: "COLA-330", qty: 1 }, { sku: "GUM-14", qty: 2 }], {
        review: ["confidence 0.55 below 0.80"],
        confidence: 0.55,
      }),
      lineConfidence: { "COLA-330": 0.99, "GUM-14": 0.56 },
    }),
  );
  // It appears in the open page's queue without a reload.
  const row = page.locator(`#queue tr[data-session="${id}"]`);
  await row.waitFor({ timeout: 5000 });
  assert.match(await row.textContent() ?? "", /confidence 0\.55 below 0\.80/);
  const queued = await api("GET", "/payments/review");
  assert.deepEqual(
    queued.body.items.map((d: { session: { sessionId: string } }) => d.session.sessionId),
    [id],
  );
  await page.screenshot({ path: `${ARTIFACTS}/sessions.png`, fullPage: true });

  // The session's page: the clip plays, the cart shows the device's confidence per line.
  await row.getByRole("link").click();
  await page.waitForURL(`${svc.url}/sessions/${id}`);
  await page.waitForFunction(
    `(() => { const v = document.querySelector("video[data-clip]"); ` +
      `return v !== null && v.readyState >= 2 && v.videoWidth === 320 && v.duration > 1.5; })()`,
    undefined,
    { timeout: 10_000 },
  );
  assert.equal(
    await page.locator('tr[data-line="GUM-14"] [data-confidence]').textContent(),
    "0.56",
  );
  await page.screenshot({ path: `${ARTIFACTS}/review.png`, fullPage: true });

  // The operator corrects it: one pack of gum, not two, and a water the machine missed.
  await page.getByLabel("quantity of GUM-14").fill("1");
  await page.getByLabel("product to add").selectOption("WATER-500");
  await page.getByRole("button", { name: "Add product" }).click();
  await page.getByRole("button", { name: "Approve and charge" }).click();
  await page.locator("#review-result", { hasText: "approved: settled" }).waitFor({ timeout: 5000 });
  await page.locator("#session [data-state]", { hasText: "settled" }).waitFor({ timeout: 5000 });
  const want = price("COLA-330") + price("GUM-14") + price("WATER-500");
  const settled = await api("GET", `/payments/sessions/${id}`);
  assert.deepEqual([settled.body.state, settled.body.captured, settled.body.reviewer], [
    "settled",
    want,
    "operator-web",
  ]);
  assert.deepEqual(settled.body.cart, [
    { sku: "COLA-330", qty: 1 },
    { sku: "GUM-14", qty: 1 },
    { sku: "WATER-500", qty: 1 },
  ]);
  const hold = await new SandboxProvider(await KvSandboxStore.open(nc)).inspect(
    settled.body.hold.holdId,
  );
  assert.deepEqual([hold.status, hold.captured], ["captured", want]);
  assert.deepEqual(await svc.payments.checkLedger(), []);
  assert.equal((await api("GET", "/payments/review")).body.items.length, 0);
  // The sessions page lists it settled, with its amount and door-close-to-receipt latency.
  await page.goto(`${svc.url}/sessions`);
  const recent = page.locator(`#recent tr[data-session="${id}"]`);
  assert.equal(await recent.locator("[data-state]").textContent(), "settled");
  assert.match(await recent.locator("[data-amount]").textContent() ?? "", /^\d+\.\d\d [A-Z]{3}$/);
  assert.match(await recent.locator("[data-latency]").textContent() ?? "", /^\d+ ms$/);
  assert.match(await page.locator("#queue").textContent() ?? "", /Nothing to review/);

  // The machine's field accuracy: the session sent to review, corrected, on the plot.
  const counted = await eventually(
    async () => {
      const a = await api("GET", "/machines/m001/accuracy?hours=24");
      return a.body.totals?.corrected === 1 ? a.body : undefined;
    },
    10_000,
    "the session counted",
  );
  assert.deepEqual(
    [counted.totals.sessions, counted.totals.review, counted.totals.chargedWithoutReview],
    [1, 1, 0],
  );
  await page.goto(`${svc.url}/machines/m001/accuracy`);
  const model = page.locator('#by-model tr[data-row="model:1.0.0"]');
  assert.equal(await model.locator('[data-col="sessions"]').textContent(), "1");
  assert.equal(await model.locator('[data-col="review"]').textContent(), "1 (100%)");
  assert.equal(await model.locator('[data-col="corrected"]').textContent(), "1");
  const point = page.locator('#review-plot g[data-model="1.0.0"] circle');
  assert.equal(await point.getAttribute("data-rate"), "1");
  assert.equal(
    await page.locator('#reasons tr[data-reason="confidence # below #"] td').nth(1).textContent(),
    "1",
  );
  await page.screenshot({ path: `${ARTIFACTS}/accuracy.png`, fullPage: true });

  // A viewer sees a flagged session but no review form, and the API refuses a viewer's review.
  const other = await start();
  await jetstream(nc).publish(
    machine.subject,
    pipelineEvent.encode(
      sessionCompleted(other, [{ sku: "COLA-330", qty: 1 }], {
        review: ["unsure"],
        confidence: 0.5,
      }),
    ),
  );
  await eventually(
    async () => {
      const s = await api("GET", `/payments/sessions/${other}`);
      return s.body.state === "review" ? true : undefined;
    },
    5000,
    "second session in review",
  );
  const viewer = await b.newContext();
  const viewerPage = await viewer.newPage();
  await viewerPage.goto(await loginLink(nc, svc, "viewer"));
  await viewerPage.goto(`${svc.url}/sessions/${other}`);
  assert.equal(await viewerPage.getByRole("button", { name: "Approve and charge" }).count(), 0);
  assert.match(await viewerPage.content(), /can watch but not review/);
  const viewerToken = await svc.tokens.issue({ subject: "watcher", role: "viewer" });
  const refused = await api(
    "POST",
    `/payments/sessions/${other}/review`,
    { cart: [] },
    { token: viewerToken },
  );
  assert.equal(refused.status, 403);
  assert.equal((await api("GET", `/payments/sessions/${other}`)).body.state, "review");
});

Deno.test("dashboard: an operator edits a machine's planogram, the device takes it; a stale edit is refused; a viewer cannot edit", async () => {
  await using nats = await startTestNats();
  await using svc = await startCloudService(nats, { logger: quiet });
  await using nc = await nats.connect();
  await using _cabinet = await simulatedCabinet(nats, {
    recognizer: "model",
    isOnline: () => svc.state.statuses.get("m001-a") !== undefined,
  });
  const api = apiClient(svc.url, await svc.tokens.issue({ subject: "ops", role: "operator" }));
  await calibrationReported(api);
  await using b = await browser();
  const page = await b.newPage();
  await page.goto(await loginLink(nc, svc, "operator"));
  await page.goto(`${svc.url}/machines/m001/planogram`);
  // No planogram yet: the slots the primary's cameras see, all empty.
  const rows = page.locator("#slots tbody tr");
  assert.equal(await rows.count(), 12);
  assert.equal(await page.locator("#version").textContent(), "none yet");
  for (const [i, s] of STANDARD_SLOTS.entries()) {
    await rows.nth(i).locator("select").selectOption(s.sku!);
    await rows.nth(i).locator("input").fill(String(s.par));
  }
  await page.getByRole("button", { name: "Save as the next version" }).click();
  await page.locator("#planogram-result", { hasText: "saved as version 1" }).waitFor({
    timeout: 5000,
  });
  await page.locator('#devices [data-device="m001-a"][data-in-use="1"]').waitFor({
    timeout: 20_000,
  });
  // A second operator's page, opened at version 1; the first saves version 2 meanwhile.
  const stale = await b.newPage();
  await stale.goto(await loginLink(nc, svc, "operator"));
  await stale.goto(`${svc.url}/machines/m001/planogram`);
  await rows.nth(0).locator("select").selectOption("");
  await page.getByRole("button", { name: "Save as the next version" }).click();
  await page.locator("#planogram-result", { hasText: "saved as version 2" }).waitFor({
    timeout: 5000,
  });
  await stale.locator("#slots tbody tr").nth(1).locator("input").fill("9");
  await stale.getByRole("button", { name: "Save as the next version" }).click();
  await stale.locator('#planogram-result[data-state="refused"]').waitFor({ timeout: 5000 });
  assert.match(
    await stale.locator("#planogram-result").textContent() ?? "",
    /version 2 now \(header\.if-match\)/,
  );
  const stored = await svc.planograms.get("m001");
  assert.equal(stored?.version, 2);
  assert.equal(stored?.slots[0]?.sku, null);
  assert.equal(stored?.slots[1]?.par, STANDARD_SLOTS[1]!.par);
  await page.screenshot({ path: `${ARTIFACTS}/planogram.png`, fullPage: true });

  const viewer = await b.newPage();
  await viewer.goto(await loginLink(nc, svc, "viewer"));
  await viewer.goto(`${svc.url}/machines/m001/planogram`);
  assert.equal(await viewer.getByRole("button", { name: "Save as the next version" }).count(), 0);
  assert.equal(await viewer.locator("#slots select[disabled]").count(), 12);
});
