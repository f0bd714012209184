/**
 * A hostile device: one device's own credentials, used against the real cloud service on a real
 * nats-server. A device's identity is the subject it may publish on; whatever its reports' bodies
 * claim, nothing of another device changes, and each refusal is audited.
 */
import assert from "node:assert/strict";
import { jetstream } from "@nats-io/jetstream";
import { startCloudService } from "../cloud/mod.ts";
import {
  auditEntry,
  deploymentEvent,
  heartbeat,
  newEnvelope,
  subjects,
  telemetry,
} from "../protocol/mod.ts";
import { eventually } from "./edge_harness.ts";
import { apiClient, auditEntries, startTestNats } from "./harness.ts";

const quiet = { log: () => {} };

/** A heartbeat whose body names `deviceId`. */
function beat(deviceId: string, appVersion: string, door: "open" | "closed" = "closed") {
  return heartbeat.encode({
    ...newEnvelope(),
    deviceId,
    machineId: deviceId.split("-")[0]!,
    role: "primary",
    seq: 1,
    uptimeMs: 1000,
    status: "ok",
    door,
    appVersion,
    modelVersion: null,
  });
}

/** The audit entries of reports refused from `sender`. */
async function refusals(nc: Parameters<typeof auditEntries>[0], sender: string) {
  return (await auditEntries(nc)).filter((e) =>
    e.action === "device.report_refused" && e.actor.subject === `device:${sender}` &&
    e.outcome === "refused"
  );
}

Deno.test("a hostile device's heartbeats and telemetry naming another device, or one that does not exist, change nothing and are audited", async () => {
  await using nats = await startTestNats();
  await using svc = await startCloudService(nats, { logger: quiet });
  const api = apiClient(svc.url, await svc.tokens.issue({ subject: "admin-1", role: "admin" }));
  await using victim = await nats.connectDevice({ deviceId: "m001-a" });
  victim.publish(
    subjects.heartbeat({ region: "local", deviceId: "m001-a" }),
    beat("m001-a", "0.1.0"),
  );
  const before = await eventually(
    async () => {
      const r = await api("GET", "/devices/m001-a");
      return r.status === 200 && r.body.status ? r.body.status : undefined;
    },
    10_000,
    "the victim's status",
  );
  assert.equal(before.appVersion, "0.1.0");

  // m002-a: another cabinet's device, with its own valid credentials, on its own subjects.
  await using thief = await nats.connectDevice({ deviceId: "m002-a" });
  const own = { region: "local", deviceId: "m002-a" };
  thief.publish(subjects.heartbeat(own), beat("m001-a", "6.6.6", "open"));
  thief.publish(subjects.heartbeat(own), beat("ghost-a", "6.6.6"));
  thief.publish(
    subjects.telemetry(own),
    telemetry.encode({
      ...newEnvelope(),
      deviceId: "m001-a",
      cpu: { usage: 0.5, load1: 1 },
      memory: { rssBytes: 1, usedBytes: 1, totalBytes: 2 },
      disk: { usedBytes: 1, totalBytes: 2 },
      temperatureC: 150,
      door: "open",
      cameras: [],
      stages: [],
      outbox: { depth: 900, bytes: 99, capacityBytes: 100 },
      clips: { pending: 3, bytes: 10, quotaBytes: 100, refused: 0, uploaded: 0 },
      appVersion: "6.6.6",
      modelVersion: null,
    }),
  );
  // Its own heartbeat still counts: the ingest did not simply stop listening to it.
  thief.publish(subjects.heartbeat(own), beat("m002-a", "0.2.0"));
  await eventually(
    async () => {
      const r = await api("GET", "/devices/m002-a");
      return r.body?.status?.appVersion === "0.2.0" || undefined;
    },
    10_000,
    "the thief's own status",
  );
  const after = (await api("GET", "/devices/m001-a")).body.status;
  assert.equal(after.appVersion, "0.1.0");
  assert.equal(after.door, before.door);
  assert.equal(after.machineId, "m001");
  assert.equal((await api("GET", "/devices/ghost-a")).status, 404);
  const audited = await eventually(
    async () => {
      const found = await refusals(svc.nc, "m002-a");
      return found.length >= 3 ? found : undefined;
    },
    10_000,
    "three refusals audited",
  );
  assert.deepEqual(
    audited.map((e) => `${e.target} ${e.requestId}`).sort(),
    [
      "device/ghost-a heartbeat:m002-a",
      "device/m001-a heartbeat:m002-a",
      "device/m001-a telemetry:m002-a",
    ],
  );
  const alerts = (await api("GET", "/alerts")).body;
  assert.ok(
    !JSON.stringify(alerts).includes("m001-a"),
    `no alert names the victim: ${JSON.stringify(alerts)}`,
  );
  assert.equal(svc.ingest.counters.impersonated, 3);
});

Deno.test("a hostile device's update progress naming another device neither fails nor passes it, and is audited", async () => {
  await using nats = await startTestNats();
  await using svc = await startCloudService(nats, { logger: quiet });
  const admin = await svc.tokens.issue({ subject: "admin-1", role: "admin" });
  const api = apiClient(svc.url, admin);
  const published = await api("POST", "/components/versions", {
    recipe: {
      component: "detector",
      version: "1.0.0",
      kind: "model",
      platform: { arch: ["x86_64", "aarch64"] },
    },
    artifacts: [{ name: "model.onnx", base64: btoa("weights") }],
  });
  assert.equal(published.status, 201, JSON.stringify(published.body));
  for (const id of ["m001-a", "m002-a"]) {
    const r = await api("PUT", `/devices/${id}`, {
      machineId: id.slice(0, 4),
      role: "primary",
      region: "local",
      groups: ["shop-a"],
    });
    assert.ok(r.status === 200 || r.status === 201, JSON.stringify(r.body));
  }
  await eventually(() => (svc.state.devices.size >= 2 ? true : undefined), 5000, "devices");
  // The victim alone: it never answers, so its entry waits for its progress.
  const created = await api("POST", "/deployments", {
    targets: [{ component: "detector", version: "1.0.0" }],
    selector: { devices: ["m001-a"] },
    policy: { canary: 1, ratePerMinute: 600 },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const id: string = created.body.id;
  await eventually(
    async () => {
      const d = (await api("GET", `/deployments/${id}`)).body;
      return d.assigned === 1 || undefined;
    },
    10_000,
    "the victim assigned",
  );

  await using thief = await nats.connectDevice({ deviceId: "m002-a" });
  const js = jetstream(thief, { checkAPI: false });
  for (const phase of ["failed", "healthy"] as const) {
    await js.publish(
      subjects.updateProgress({ region: "local", deviceId: "m002-a" }),
      deploymentEvent.encode({
        ...newEnvelope(),
        deviceId: "m001-a",
        type: "update_progress",
        deploymentId: id,
        component: "detector",
        version: "1.0.0",
        phase,
        bytesDone: 0,
        bytesTotal: 7,
        bytesSaved: 0,
        reason: phase === "failed" ? "input shape wrong" : null,
      }),
    );
  }
  const audited = await eventually(
    async () => {
      const found = await refusals(svc.nc, "m002-a");
      return found.length >= 1 ? found : undefined;
    },
    10_000,
    "the refusal audited",
  );
  assert.equal(audited[0]!.target, "device/m001-a");
  assert.equal(audited[0]!.requestId, "update_progress:m002-a");
  const d = (await api("GET", `/deployments/${id}`)).body;
  assert.equal(d.state, "running", JSON.stringify(d));
  assert.equal(d.counts.failed, 0);
  assert.equal(d.counts.healthy, 0);
  assert.equal(d.counts.rolled_back, 0);
});

Deno.test("an audit entry a hostile device writes claiming an admin's action is listed as the device's, not authentic", async () => {
  await using nats = await startTestNats();
  await using svc = await startCloudService(nats, { logger: quiet });
  const api = apiClient(svc.url, await svc.tokens.issue({ subject: "admin-1", role: "admin" }));
  await using thief = await nats.connectDevice({ deviceId: "m002-a" });
  const js = jetstream(thief, { checkAPI: false });
  const own = { region: "local", deviceId: "m002-a" };
  const claim = (actor: { subject: string; role: "admin" | "device" }, action: string) =>
    auditEntry.encode({
      ...newEnvelope(),
      actor,
      action,
      target: "token/op-9",
      outcome: "ok",
      requestId: "req-1",
      before: null,
      after: { role: "admin" },
      reason: null,
    });
  await js.publish(
    subjects.deviceAudit(own),
    claim({ subject: "admin-1", role: "admin" }, "token.issue"),
  );
  await js.publish(
    subjects.deviceAudit(own),
    claim({ subject: "device:m002-a", role: "device" }, "command.refused"),
  );
  // The cloud's own entry (its refusal of a bad token) for comparison.
  await api("GET", "/devices", undefined, { token: "not-a-token" });
  const items = await eventually(
    async () => {
      const r = await api("GET", "/audit?limit=500");
      const found = r.body.items.filter((i: { entry: { action: string } }) =>
        ["token.issue", "command.refused"].includes(i.entry.action)
      );
      return found.length === 2 &&
          r.body.items.some((i: { source: string }) => i.source === "cloud")
        ? r.body.items
        : undefined;
    },
    10_000,
    "the entries listed",
  );
  const by = (action: string) =>
    items.find((i: { entry: { action: string } }) => i.entry.action === action);
  assert.equal(by("token.issue").source, "device:m002-a");
  assert.equal(by("token.issue").authentic, false);
  assert.equal(by("command.refused").source, "device:m002-a");
  assert.equal(by("command.refused").authentic, true);
  const cloud = items.find((i: { source: string }) => i.source === "cloud");
  assert.equal(cloud.authentic, true);
});
