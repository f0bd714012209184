/**
 * Device identity end to end on a real nats-server with decentralized authentication and the
 * cloud service: provisioning by claim, a second claim refused, revocation, and rotation of a
 * device's credentials during a door session.
 */
import assert from "node:assert/strict";
import { Kvm } from "@nats-io/kv";
import { connectNats, startCloudService, TokenService } from "../cloud/mod.ts";
import { Agent, ClaimError, identityFiles, loadAgentConfig, provisionDevice } from "../edge/mod.ts";
import { SimulatedHardware } from "../edge/sim/mod.ts";
import { buckets, filters, parseHeartbeat, subjects } from "../protocol/mod.ts";
import { eventually, streamEvents } from "./edge_harness.ts";
import { apiClient, auditEntries, startTestNats, type TestNats } from "./harness.ts";

const quiet = { log: () => {} };

/** A cloud service with the accounts' keys, an admin API client and a batch of one cabinet. */
async function cloudWithBatch(nats: TestNats, options: { ttlS?: number } = {}) {
  const nc = await nats.connect();
  const svc = await startCloudService(nats, {
    logger: { log: () => {} },
    accounts: nats.server.accounts!,
    ...(options.ttlS ? { deviceCredentialsTtlS: options.ttlS } : {}),
  });
  const tokens = await TokenService.open(await new Kvm(nc).create(buckets.service));
  const api = apiClient(svc.url, await tokens.issue({ subject: "ada", role: "admin" }));
  const batch = await api("POST", "/batches", {
    batchId: "b2026-11",
    region: "local",
    devices: [
      { serial: "SN0001", deviceId: "m001-a", machineId: "m001", role: "primary" },
      { serial: "SN0002", deviceId: "m001-b", machineId: "m001", role: "secondary" },
    ],
  });
  assert.equal(batch.status, 201, JSON.stringify(batch.body));
  const work = await Deno.makeTempDir({ prefix: "vend-provision-" });
  const claimFile = `${work}/claim.creds`;
  await Deno.writeTextFile(claimFile, batch.body.claimCredentials, { mode: 0o600 });
  return { nc, svc, api, tokens, work, claimFile };
}

/** A new device of the batch claims its identity with the claim credential (first boot). */
function claim(nats: TestNats, claimFile: string, serial: string, dir: string) {
  return provisionDevice({
    servers: [nats.url],
    caFile: nats.caFile,
    claimCredentialsFile: claimFile,
    batchId: "b2026-11",
    serial,
    dir,
  });
}

/** A device's configuration file with provisioning only: no id, no credentials. */
async function provisioningConfig(
  nats: TestNats,
  dir: string,
  claimFile: string,
  extra: Record<string, unknown> = {},
) {
  const file = `${dir}/agent.json`;
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(
    file,
    JSON.stringify({
      nats: { servers: [nats.url], caFile: nats.caFile },
      dataDir: dir,
      heartbeatIntervalMs: 200,
      recording: { enabled: false },
      provisioning: { batchId: "b2026-11", serial: "SN0001", claimCredentialsFile: claimFile },
      ...extra,
    }),
  );
  return file;
}

Deno.test("provisioning: a new device claims its identity once with its batch's credential, keeps its seed to itself and runs as itself; a second claim is refused", async () => {
  await using nats = await startTestNats();
  const { nc, svc, api, work, claimFile } = await cloudWithBatch(nats);
  await using _svc = svc;
  // Everything on the provisioning subjects, to check the seed never travels.
  const seen: string[] = [];
  const spy = nc.subscribe("vs.provision.>", {
    callback: (_e, m) => void seen.push(m.string()),
  });
  await nc.flush();

  const dir = `${work}/device-1`;
  const file = await provisioningConfig(nats, dir, claimFile);
  const identity = await claim(nats, claimFile, "SN0001", dir);
  assert.equal(identity.deviceId, "m001-a");
  assert.equal(identity.role, "primary");
  const files = identityFiles(dir);
  for (const f of [files.seed, files.creds, files.identity]) {
    assert.equal((await Deno.stat(f)).mode! & 0o777, 0o600, `${f} is private`);
  }
  const seed = (await Deno.readTextFile(files.seed)).trim();
  assert.match(seed, /^SU/);
  assert.ok(seen.length >= 2, "the claim went over NATS");
  assert.ok(seen.every((m) => !m.includes(seed)), "the seed was never sent");
  const record = await api("GET", "/devices/m001-a/credentials");
  assert.equal(record.status, 200);
  assert.equal(record.body.serial, "SN0001");
  assert.ok(!JSON.stringify(record.body).includes(seed));

  // The agent starts from the same file, now with its identity: its id, keys and credentials.
  const config = await loadAgentConfig(file, { env: {} });
  assert.equal(config.deviceId, "m001-a");
  assert.equal(config.nats.credentialsFile, files.creds);
  const hardware = new SimulatedHardware();
  await using _agent = await Agent.start(config, { ...quiet, hardware });
  const beat = nc.subscribe(filters.heartbeats({ deviceId: "m001-a" }), { max: 1, timeout: 5000 });
  for await (const m of beat) assert.ok(parseHeartbeat(m.data).ok);
  // A signed unlock from the cloud (the key it pinned at provisioning) opens it.
  const sent = await eventually(
    async () => {
      const r = await api("POST", "/devices/m001-a/commands", {
        command: "unlock",
        args: { sessionId: null, durationMs: 5000 },
      });
      return r.status === 202 ? r : undefined;
    },
    5000,
    "the device registered",
  );
  await eventually(
    async () => {
      const r = await api("GET", `/commands/${sent.body.id}`);
      return r.body.status === "succeeded" ? true : undefined;
    },
    5000,
    "the unlock answered",
  );
  assert.deepEqual(hardware.unlocks, [5000]);

  // A cloned device with a copy of the claim credential claims the same serial: refused.
  await assert.rejects(
    () => claim(nats, claimFile, "SN0001", `${work}/clone`),
    (e: Error) => e instanceof ClaimError && /claimed already/.test(e.message),
  );
  // A serial not in the batch's allowlist.
  await assert.rejects(
    () => claim(nats, claimFile, "SN9999", `${work}/stranger`),
    /not in batch "b2026-11"/,
  );
  // The claim credential does nothing else: not even a heartbeat.
  const claimConn = await connectNats({ url: nats.url, caFile: nats.caFile }, {
    credentialsFile: claimFile,
    reconnect: false,
    name: "claim-abuse",
  });
  const refused = (async () => {
    for await (const s of claimConn.status()) if (s.type === "error") return true;
    return false;
  })();
  claimConn.publish(subjects.heartbeat({ region: "local", deviceId: "m001-a" }), "{}");
  assert.equal(await refused, true);
  await claimConn.close();

  const audit = await eventually(
    async () => {
      const all = await auditEntries(nc);
      return all.filter((e) => e.action === "device.claim_refused").length >= 2 ? all : undefined;
    },
    10_000,
    "the refused claims audited",
  );
  assert.ok(audit.some((e) => e.action === "device.provisioned" && e.target === "device/m001-a"));
  assert.ok(
    audit.some((e) =>
      e.action === "device.claim_refused" && /claimed already/.test(e.reason ?? "")
    ),
  );
  spy.unsubscribe();
  await nc.close();
});

Deno.test("revocation: a revoked device is disconnected at once and can neither reconnect nor renew", async () => {
  await using nats = await startTestNats();
  const { nc, svc, api, work, claimFile } = await cloudWithBatch(nats);
  await using _svc = svc;
  const dir = `${work}/device`;
  const file = await provisioningConfig(nats, dir, claimFile);
  await claim(nats, claimFile, "SN0001", dir);
  const device = await connectNats({ url: nats.url, caFile: nats.caFile }, {
    credentialsFile: identityFiles(dir).creds,
    name: "m001-a",
    inboxPrefix: "_INBOX_dev.m001-a",
    reconnect: false,
  });
  await device.flush();
  const closed = device.closed();
  const revoked = await api("POST", "/devices/m001-a/revoke");
  assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
  assert.ok(revoked.body.revokedAt > 0);
  // What the revoked device does next: connect again with the credentials it has.
  const reconnectAsDevice = () =>
    connectNats({ url: nats.url, caFile: nats.caFile }, {
      credentialsFile: identityFiles(dir).creds,
      name: "m001-a",
      reconnect: false,
      timeoutMs: 3000,
    });
  const outcome = await Promise.race([
    closed.then(() => "closed"),
    new Promise((r) => setTimeout(() => r("still connected"), 5000)),
  ]);
  assert.equal(outcome, "closed", "the server disconnected the revoked device");
  await assert.rejects(
    () => reconnectAsDevice(),
    /Authorization Violation/,
  );
  // The agent cannot start a session with it either: it never connects.
  const config = await loadAgentConfig(file, { env: {} });
  const agent = await Agent.start(config, quiet);
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(agent.connected, false);
  await agent.stop();
  // A server started later keeps the revocation (it is in the accounts' configuration).
  await nats.stop();
  await nats.start();
  await assert.rejects(
    () => reconnectAsDevice(),
    /Authorization Violation/,
  );
  const entries = await eventually(
    async () => {
      const all = await auditEntries(nc);
      return all.some((e) => e.action === "device.revoke") ? all : undefined;
    },
    10_000,
    "the revocation audited",
  );
  assert.ok(entries.some((e) => e.action === "nats.authentication_refused"));
  await nc.close();
});

Deno.test("rotation: a device renews its credentials before they expire and switches to them only after the door session in progress", async () => {
  await using nats = await startTestNats();
  // Credentials of 9 s, renewed 3 s before they expire (about 6 s after they were issued); the
  // next renewal is due after the first credentials expired, so nothing else reconnects.
  const { nc, svc, work, claimFile } = await cloudWithBatch(nats, { ttlS: 9 });
  await using _svc = svc;
  const dir = `${work}/device`;
  const file = await provisioningConfig(nats, dir, claimFile, {
    provisioning: {
      batchId: "b2026-11",
      serial: "SN0001",
      claimCredentialsFile: claimFile,
      renewBeforeS: 3,
    },
  });
  const first = await claim(nats, claimFile, "SN0001", dir);
  const lines: Array<{ msg: string; at: number }> = [];
  const hardware = new SimulatedHardware();
  const config = await loadAgentConfig(file, { env: {} });
  await using agent = await Agent.start(config, {
    hardware,
    cartDecider: {
      decide: () =>
        Promise.resolve({ cart: [], confidence: 1, reviewReasons: [], modelVersion: "test" }),
    },
    log: (l) => lines.push({ msg: String(l.msg), at: Date.now() }),
  });
  await eventually(() => (agent.connected ? true : undefined), 5000, "connected");
  // A customer opens the door before the renewal and closes it after.
  hardware.setDoor("open");
  await eventually(
    () => lines.find((l) => l.msg === "credentials renewed"),
    10_000,
    "the renewal",
  );
  await new Promise((r) => setTimeout(r, 1000));
  assert.ok(
    !lines.some((l) => l.msg === "reconnected with the renewed credentials"),
    "no reconnect while the door is open",
  );
  const closedAt = Date.now();
  hardware.setDoor("closed");
  const switched = await eventually(
    () => lines.find((l) => l.msg === "reconnected with the renewed credentials"),
    5000,
    "the switch to the new credentials",
  );
  assert.ok(switched.at >= closedAt);
  // Past the first credentials' expiry the device is still connected (on the new ones).
  const wait = first.expiresAt * 1000 + 1500 - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  assert.equal(agent.connected, true);
  // The switch is the only time the connection dropped: the expiry of the first credentials
  // did not cut it (it would have been a second drop).
  assert.equal(lines.filter((l) => l.msg === "NATS connection lost").length, 1);
  const identity = JSON.parse(await Deno.readTextFile(identityFiles(dir).identity));
  assert.ok(identity.expiresAt > first.expiresAt, "new credentials were stored");
  // The door session's events arrived, once each.
  const events = await eventually(
    async () => {
      const e = await streamEvents(nc, "m001-a");
      return e.some((x) => x.type === "door_closed") ? e : undefined;
    },
    10_000,
    "the session's events",
  );
  assert.equal(events.filter((e) => e.type === "door_opened").length, 1);
  assert.equal(events.filter((e) => e.type === "door_closed").length, 1);
  await nc.close();
});
