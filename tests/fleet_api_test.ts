import assert from "node:assert/strict";
import { type CloudService, startCloudService } from "../cloud/mod.ts";
import type { Logger } from "../runtime/mod.ts";
import { Agent } from "../edge/mod.ts";
import { SimulatedHardware } from "../edge/sim/mod.ts";
import { heartbeat, newEnvelope, subjects } from "../protocol/mod.ts";
import { eventually, testAgentConfig } from "./edge_harness.ts";
import { startTestNats, type TestNats } from "./harness.ts";

const quiet: Logger = { log: () => {} };

async function cloud(nats: TestNats, offlineAfterMs = 60_000) {
  const svc = await startCloudService(nats, { logger: quiet, offlineAfterMs });
  const token = (role: "viewer" | "operator" | "admin", subject = `${role}-1`) =>
    svc.tokens.issue({ subject, role });
  const call = async (
    method: string,
    path: string,
    options: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
  ) => {
    const res = await fetch(`${svc.url}${path}`, {
      method,
      headers: {
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        ...(options.body !== undefined ? { "content-type": "application/json" } : {}),
        ...options.headers,
      },
      ...(options.body !== undefined
        ? { body: typeof options.body === "string" ? options.body : JSON.stringify(options.body) }
        : {}),
    });
    const text = await res.text();
    return {
      status: res.status,
      headers: res.headers,
      body: text ? JSON.parse(text) : null,
      type: res.headers.get("content-type"),
    };
  };
  return { svc, token, call };
}

function beat(
  nc: { publish(s: string, d: Uint8Array): void },
  deviceId: string,
  extra: Partial<{ appVersion: string; door: "open" | "closed" }> = {},
) {
  nc.publish(
    subjects.heartbeat({ region: "local", deviceId }),
    heartbeat.encode({
      ...newEnvelope(),
      deviceId,
      machineId: deviceId.split("-")[0]!,
      role: deviceId.endsWith("-a") ? "primary" : "secondary",
      seq: 1,
      uptimeMs: 1000,
      status: "ok",
      door: extra.door ?? "closed",
      appVersion: extra.appVersion ?? "0.1.0",
      modelVersion: null,
    }),
  );
}

const device = {
  machineId: "m001",
  role: "primary",
  region: "local",
  tags: ["city:madrid", "fw:beta"],
  groups: ["pilot"],
};

Deno.test("fleet API refuses a missing, malformed, forged or expired token with 401", async () => {
  await using nats = await startTestNats();
  const { svc, token, call } = await cloud(nats);
  await using _ = svc as CloudService;
  assert.equal((await call("GET", "/devices")).status, 401);
  assert.equal(
    (await call("GET", "/devices", { headers: { authorization: "Basic abc" } })).status,
    401,
  );
  const good = await token("viewer");
  const forged = good.slice(0, -4) + (good.endsWith("AAAA") ? "BBBB" : "AAAA");
  const r = await call("GET", "/devices", { token: forged });
  assert.equal(r.status, 401);
  assert.equal(r.type, "application/problem+json");
  const expired = await svc.tokens.issue({ subject: "old", role: "admin" }, { ttlSeconds: -10 });
  assert.match((await call("GET", "/devices", { token: expired })).body.detail, /exp/);
  assert.equal((await call("GET", "/devices", { token: good })).status, 200);
});

Deno.test("fleet API registers a device, updates it with If-Match, refuses a stale ETag, and audits before and after", async () => {
  await using nats = await startTestNats();
  const { svc, token, call } = await cloud(nats);
  await using _ = svc as CloudService;
  const admin = await token("admin", "alice");
  const created = await call("PUT", "/devices/m001-a", { token: admin, body: device });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const tag = created.headers.get("etag")!;
  assert.equal((await call("PUT", "/devices/m001-a", { token: admin, body: device })).status, 409);
  const updated = await call("PUT", "/devices/m001-a", {
    token: admin,
    body: { ...device, tags: ["city:lisbon"] },
    headers: { "if-match": tag },
  });
  assert.equal(updated.status, 200);
  const stale = await call("PUT", "/devices/m001-a", {
    token: admin,
    body: device,
    headers: { "if-match": tag },
  });
  assert.equal(stale.status, 412);
  assert.equal(stale.body.field, "header.if-match");
  const bad = await call("PUT", "/devices/m001-a", {
    token: admin,
    body: { ...device, role: "boss" },
  });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.field, "body.role");
  const log = await call("GET", "/audit", { token: admin });
  const puts = log.body.items.map((
    i: {
      entry: {
        action: string;
        outcome: string;
        actor: { subject: string };
        before: unknown;
        after: unknown;
      };
    },
  ) => i.entry)
    .filter((e: { action: string }) => e.action === "device.put");
  assert.deepEqual(puts.map((e: { outcome: string }) => e.outcome), [
    "ok",
    "refused",
    "ok",
    "refused",
  ]);
  assert.equal(puts[2].actor.subject, "alice");
  assert.deepEqual(puts[2].before.tags, device.tags);
  assert.deepEqual(puts[2].after.tags, ["city:lisbon"]);
});

Deno.test("fleet ingest turns heartbeats into online status and silence into offline with an alert", async () => {
  await using nats = await startTestNats();
  const { svc, token, call } = await cloud(nats, 1000);
  await using _ = svc as CloudService;
  await using nc = await nats.connect();
  const viewer = await token("viewer");
  beat(nc, "m005-a");
  const online = await eventually(
    async () => {
      const r = await call("GET", "/devices/m005-a", { token: viewer });
      return r.body?.status?.status === "online" ? r.body : undefined;
    },
    5000,
    "online",
  );
  assert.equal(online.registered, false);
  const offline = await eventually(
    async () => {
      const r = await call("GET", "/devices?status=offline", { token: viewer });
      return r.body.items.length === 1 ? r.body.items[0] : undefined;
    },
    5000,
    "offline",
  );
  assert.equal(offline.id, "m005-a");
  const alerts = await eventually(
    async () => {
      const r = await call("GET", "/alerts?kind=offline", { token: viewer });
      return r.body.items.length === 1 ? r.body.items : undefined;
    },
    5000,
    "offline alert",
  );
  assert.equal(alerts[0].deviceId, "m005-a");
  beat(nc, "m005-a");
  await eventually(
    async () => ((await call("GET", "/alerts", { token: viewer })).body.items.length === 0
      ? true
      : undefined),
    5000,
    "alert cleared",
  );
});

Deno.test("GET /devices filters by status, region, version, tag and group, and pages by cursor", async () => {
  await using nats = await startTestNats();
  const { svc, token, call } = await cloud(nats);
  await using _ = svc as CloudService;
  await using nc = await nats.connect();
  const admin = await token("admin");
  for (let i = 1; i <= 7; i++) {
    const id = `m00${i}-a`;
    await call("PUT", `/devices/${id}`, {
      token: admin,
      body: {
        ...device,
        machineId: `m00${i}`,
        tags: i % 2 ? ["odd"] : ["even"],
        groups: i <= 2 ? ["pilot"] : [],
      },
    });
    if (i <= 5) beat(nc, id, { appVersion: i <= 3 ? "0.1.0" : "0.2.0" });
  }
  await call("PUT", "/groups/evens", {
    token: admin,
    body: { description: "dynamic", tagQuery: ["even"] },
  });
  await eventually(
    async () => ((await call("GET", "/devices?status=online", { token: admin })).body.total === 5
      ? true
      : undefined),
    5000,
    "5 online",
  );
  const q = async (query: string) =>
    (await call("GET", `/devices?${query}`, { token: admin })).body;
  assert.equal((await q("version=0.2.0")).total, 2);
  assert.equal((await q("tag=odd")).total, 4);
  assert.equal((await q("group=pilot")).total, 2);
  assert.deepEqual((await q("group=evens")).items.map((d: { id: string }) => d.id), [
    "m002-a",
    "m004-a",
    "m006-a",
  ]);
  assert.equal((await q("status=unknown")).total, 2);
  assert.equal((await q("region=local")).total, 7);
  const ids: string[] = [];
  let cursor: string | null = "";
  while (cursor !== null) {
    const page: { items: { id: string }[]; nextCursor: string | null } = await q(
      `limit=3${cursor ? `&cursor=${cursor}` : ""}`,
    );
    ids.push(...page.items.map((d) => d.id));
    cursor = page.nextCursor;
  }
  assert.deepEqual(ids, ["m001-a", "m002-a", "m003-a", "m004-a", "m005-a", "m006-a", "m007-a"]);
  const bad = await call("GET", "/devices?limit=5000", { token: admin });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.field, "query.limit");
  assert.equal(
    (await call("GET", "/devices?cursor=%%%", { token: admin })).body.field,
    "query.cursor",
  );
});

Deno.test("a viewer cannot unlock; an operator's unlock and desired state reach a real agent, audited", async () => {
  await using nats = await startTestNats();
  const { svc, token, call } = await cloud(nats);
  await using _ = svc as CloudService;
  const hardware = new SimulatedHardware();
  await using agent = await Agent.start(await testAgentConfig(nats), {
    hardware,
    log: () => {},
  });
  const viewer = await token("viewer", "vera");
  const operator = await token("operator", "otto");
  await eventually(
    async () => ((await call("GET", "/devices/m001-a", { token: viewer })).status === 200
      ? true
      : undefined),
    5000,
    "device seen",
  );
  const body = { command: "unlock", args: { sessionId: null, durationMs: 8000 } };
  const refused = await call("POST", "/devices/m001-a/commands", { token: viewer, body });
  assert.equal(refused.status, 403);
  assert.deepEqual(hardware.unlocks, []);
  const sent = await call("POST", "/devices/m001-a/commands", { token: operator, body });
  assert.equal(sent.status, 202, JSON.stringify(sent.body));
  const done = await eventually(
    async () => {
      const r = await call("GET", `/commands/${sent.body.id}`, { token: viewer });
      return r.body.status !== "sent" ? r.body : undefined;
    },
    5000,
    "command result",
  );
  assert.equal(done.status, "succeeded");
  assert.deepEqual(hardware.unlocks, [8000]);
  const badArgs = await call("POST", "/devices/m001-a/commands", {
    token: operator,
    body: { command: "unlock", args: { durationMs: 1 } },
  });
  assert.equal(badArgs.status, 400);
  assert.match(badArgs.body.field, /^body\.args/);

  const patched = await call("PATCH", "/devices/m001-a/shadow/desired", {
    token: operator,
    body: { config: { heartbeatIntervalMs: 700 } },
  });
  assert.equal(patched.status, 200, JSON.stringify(patched.body));
  await eventually(
    () => (agent.config.heartbeatIntervalMs === 700 ? true : undefined),
    5000,
    "applied on the device",
  );
  const shadowNow = await eventually(
    async () => {
      const r = await call("GET", "/devices/m001-a/shadow", { token: viewer });
      return r.body.reported?.applied?.desiredVersion === 1 ? r.body : undefined;
    },
    5000,
    "reported back",
  );
  assert.equal(shadowNow.desired.updatedBy, "otto");
  const audit = (await call("GET", "/audit", { token: operator })).body.items.map((
    i: { entry: { action: string; outcome: string; actor: { subject: string } } },
  ) => i.entry);
  assert.ok(
    audit.some((e: { action: string; outcome: string; actor: { subject: string } }) =>
      e.action === "command.unlock" && e.outcome === "refused" && e.actor.subject === "vera"
    ),
  );
  assert.ok(
    audit.some((e: { action: string; outcome: string; actor: { subject: string } }) =>
      e.action === "command.unlock" && e.outcome === "ok" && e.actor.subject === "otto"
    ),
  );
  assert.ok(audit.some((e: { action: string }) => e.action === "shadow.update"));
});

Deno.test("the fleet API publishes OpenAPI 3.1, Swagger UI and Prometheus metrics, and answers in problem+json", async () => {
  await using nats = await startTestNats();
  const { svc, call } = await cloud(nats);
  await using _ = svc as CloudService;
  const doc = (await call("GET", "/openapi.json")).body;
  assert.equal(doc.openapi, "3.1.0");
  for (
    const path of [
      "/devices",
      "/devices/{id}",
      "/devices/{id}/shadow/desired",
      "/devices/{id}/commands",
      "/commands/{id}",
      "/alerts",
      "/audit",
      "/groups/{id}",
      "/machines",
      "/regions",
      "/auth/tokens",
    ]
  ) {
    assert.ok(doc.paths[path], `OpenAPI lacks ${path}`);
  }
  const ui = await fetch(`${svc.url}/docs`);
  assert.match(await ui.text(), /swagger-ui-bundle\.js/);
  const js = await fetch(`${svc.url}/docs/assets/swagger-ui-bundle.js`);
  assert.equal(js.status, 200);
  assert.ok((await js.arrayBuffer()).byteLength > 100_000);
  const metrics = await (await fetch(`${svc.url}/metrics`)).text();
  assert.match(
    metrics,
    /http_requests_total\{method="GET",route="\/openapi\.json",status="200"\} 1/,
  );
  assert.match(metrics, /vend_ingest_heartbeats_total 0/);
  const missing = await call("GET", "/nope");
  assert.equal(missing.status, 404);
  assert.equal(missing.type, "application/problem+json");
  assert.ok(missing.headers.get("x-request-id"));
});

Deno.test("two cloud instances share the ingest and serve the same state", async () => {
  await using nats = await startTestNats();
  const a = await cloud(nats);
  const b = await cloud(nats);
  await using _a = a.svc as CloudService;
  await using _b = b.svc as CloudService;
  await using nc = await nats.connect();
  for (let i = 0; i < 40; i++) beat(nc, `m${String(100 + i)}-a`);
  const viewer = await a.token("viewer");
  for (const instance of [a, b]) {
    await eventually(
      async () => ((await instance.call("GET", "/devices?status=online&limit=1", { token: viewer }))
          .body.total === 40
        ? true
        : undefined),
      5000,
      "40 online",
    );
  }
  // Counters come from the ingest threads about every 100 ms.
  await eventually(
    () => (a.svc.ingest.counters.heartbeats + b.svc.ingest.counters.heartbeats === 40
      ? true
      : undefined),
    3000,
    "40 ingested",
  );
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(
    a.svc.ingest.counters.heartbeats + b.svc.ingest.counters.heartbeats,
    40,
    "each heartbeat ingested once",
  );
  assert.ok(
    a.svc.ingest.counters.heartbeats > 0 && b.svc.ingest.counters.heartbeats > 0,
    "both instances took a share",
  );
});

Deno.test("the app answers through app.request() too, and raises temperature, outbox, drop-rate and spool alerts from telemetry", async () => {
  await using nats = await startTestNats();
  const { svc, token } = await cloud(nats);
  await using _ = svc as CloudService;
  const { createApp } = await import("../cloud/mod.ts");
  const { fleetApi } = await import("../cloud/http/mod.ts");
  const { DeviceFeeds } = await import("../cloud/fleet/mod.ts");
  const { SessionFeed } = await import("../cloud/checkout/mod.ts");
  const fleet = {
    nc: svc.nc,
    state: svc.state,
    tokens: svc.tokens,
    region: "local",
    deviceFeeds: new DeviceFeeds(svc.nc, "local"),
    sessionFeed: new SessionFeed(svc.nc, "local"),
  };
  const app = createApp({
    health: () => Promise.resolve({ ok: true, checks: {} }),
    fleet,
    mounts: [{ path: "/", app: fleetApi(fleet) }],
  });
  await using nc = await nats.connect();
  const { telemetry } = await import("../protocol/mod.ts");
  const report = (ts: number, drops: number, refused = 0) =>
    telemetry.encode({
      ...newEnvelope(ts),
      deviceId: "m007-a",
      cpu: { usage: 0.5, load1: 1 },
      memory: { rssBytes: 1, usedBytes: 1, totalBytes: 2 },
      disk: { usedBytes: 1, totalBytes: 2 },
      temperatureC: 92,
      door: "closed",
      cameras: [],
      stages: [{ name: "frame_sync", fps: 15, p50Ms: 1, p99Ms: 2, queueDepth: 0, drops }],
      outbox: { depth: 900, bytes: 95, capacityBytes: 100 },
      clips: { pending: 3, bytes: 10, quotaBytes: 100, refused, uploaded: 0 },
      appVersion: "0.1.0",
      modelVersion: null,
    });
  const now = Date.now();
  nc.publish(subjects.telemetry({ region: "local", deviceId: "m007-a" }), report(now - 30_000, 10));
  // 200 drops a minute, and a clip refused by a full spool since the last report.
  nc.publish(subjects.telemetry({ region: "local", deviceId: "m007-a" }), report(now, 110, 1));
  const viewer = await token("viewer");
  const alerts = await eventually(
    async () => {
      const r = await app.request("/alerts", { headers: { authorization: `Bearer ${viewer}` } });
      const body = await r.json();
      return body.items.length === 4 ? body.items : undefined;
    },
    5000,
    "four alerts",
  );
  const byKind = Object.fromEntries(
    alerts.map((x: { kind: string; severity: string }) => [x.kind, x.severity]),
  );
  assert.deepEqual(byKind, {
    temperature: "critical",
    outbox_filling: "critical",
    pipeline_drops: "warning",
    spool_full: "critical",
  });
  assert.equal((await app.request("/alerts")).status, 401);
});
