/**
 * Attacks that must fail, each a real attempt against a real nats-server with decentralized
 * authentication (and a real agent or cloud service where one answers): every refusal is
 * checked, and so is its audit entry.
 */
import assert from "node:assert/strict";
import { jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import {
  connectNats,
  NatsUnavailableError,
  startCloudService,
  TokenService,
} from "../cloud/mod.ts";
import { Agent } from "../edge/mod.ts";
import { SimulatedHardware } from "../edge/sim/mod.ts";
import {
  type AuditEntry,
  bucketIn,
  buckets,
  type CommandRequest,
  commandRequest,
  generateSigningKey,
  newEnvelope,
  parseCommandReply,
  pipelineEvent,
  shadow,
  shadowKey,
  signCommand,
  subjects,
} from "../protocol/mod.ts";
import { eventually, testAgentConfig } from "./edge_harness.ts";
import { apiClient, auditEntries, startTestNats } from "./harness.ts";
import { sessionCompleted, simulatedMachine } from "./payments_harness.ts";

const quiet = { log: () => {} };
const victim = { region: "local", deviceId: "m001-a" };

/** Waits until an audit entry matches. */
function audited(nc: NatsConnection, what: string, match: (e: AuditEntry) => boolean) {
  return eventually(
    async () => (await auditEntries(nc)).find(match),
    10_000,
    `the audit entry of ${what}`,
  );
}

/** The next error the connection reports (a refused publish arrives asynchronously). */
async function nextError(nc: NatsConnection): Promise<string> {
  for await (const s of nc.status()) {
    if (s.type === "error") return String((s as { error?: Error }).error?.message ?? s);
  }
  return "closed";
}

Deno.test("security: a client without credentials, or with a stranger's, cannot connect; refusals are audited", async () => {
  await using nats = await startTestNats();
  await using nc = await nats.connect();
  await assert.rejects(
    () =>
      connectNats({ url: nats.url, caFile: nats.caFile }, {
        name: "no-creds",
        timeoutMs: 3000,
        reconnect: false,
      }),
    (e: Error) => e instanceof NatsUnavailableError && /Authorization Violation/i.test(e.message),
  );
  // Credentials from another operator (another installation's devices account).
  await using other = await startTestNats();
  const foreign = await other.deviceCredentials({ deviceId: "m009-a" });
  await assert.rejects(
    () =>
      connectNats({ url: nats.url, caFile: nats.caFile }, {
        name: "m009-a",
        timeoutMs: 3000,
        reconnect: false,
        credentialsFile: foreign,
      }),
    /Authorization Violation/i,
  );
  await audited(
    nc,
    "the foreign device",
    (e) => e.action === "nats.authentication_refused" && e.actor.subject === "m009-a",
  );
  await audited(
    nc,
    "the client without credentials",
    (e) => e.action === "nats.authentication_refused" && e.actor.subject === "no-creds",
  );
});

Deno.test("security: NATS serves TLS only: a client that does not trust the private CA cannot connect", async () => {
  await using nats = await startTestNats();
  assert.match(nats.url, /^tls:\/\//);
  await assert.rejects(
    () =>
      connectNats(nats.url, {
        timeoutMs: 3000,
        reconnect: false,
        credentialsFile: nats.credentialsFile,
      }),
    /certificate/i,
  );
  // With the CA the same credentials connect.
  const ok = await connectNats({ url: nats.url, caFile: nats.caFile }, {
    credentialsFile: nats.credentialsFile,
    reconnect: false,
  });
  await ok.close();
});

Deno.test("security: a device cannot publish as another device, subscribe to its commands or read its shadow; each refusal is audited", async () => {
  await using nats = await startTestNats();
  await using nc = await nats.connect();
  const cloudKv = await new Kvm(nc).open(bucketIn(buckets.shadow, "local"));
  await cloudKv.put(
    shadowKey("m001-a", "desired"),
    shadow.encode({
      ...newEnvelope(),
      deviceId: "m001-a",
      kind: "desired",
      version: 1,
      updatedBy: "op-test",
      state: { config: { heartbeatIntervalMs: 1000 } },
    }),
  );
  // m002-a: a device of another cabinet, with valid credentials of its own.
  await using thief = await nats.connectDevice({ deviceId: "m002-a" });
  const heard: string[] = [];
  const watch = nc.subscribe(subjects.heartbeat(victim), {
    callback: (_e, m) => void heard.push(m.subject),
  });
  await nc.flush();

  // 1. Publishing on the victim's heartbeat subject.
  const refusedPub = nextError(thief);
  thief.publish(subjects.heartbeat(victim), "{}");
  assert.match(
    await refusedPub,
    /Permissions Violation for Publish to "vs\.local\.dev\.m001-a\.hb"/,
  );
  // 2. A JetStream publish of a fake door event as the victim.
  await assert.rejects(
    () =>
      jetstream(thief, { checkAPI: false }).publish(
        subjects.pipelineEvent(victim, "door_opened"),
        "{}",
        { timeout: 2000 },
      ),
    /Permissions Violation|timeout/i,
  );
  // 3. Subscribing to the victim's commands (to answer in its place, or read them).
  const sub = thief.subscribe(subjects.command(victim, "unlock"));
  await assert.rejects(
    async () => {
      for await (const _ of sub) { /* nothing may arrive */ }
    },
    /Permissions Violation for Subscription to "vs\.local\.dev\.m001-a\.cmd\.unlock"/,
  );
  // 4. Reading the victim's shadow (direct get of its key).
  const kv = await new Kvm(jetstream(thief, { checkAPI: false })).open(
    bucketIn(buckets.shadow, "local"),
    {
      bindOnly: true,
      allow_direct: true,
    },
  );
  await assert.rejects(() => kv.get(shadowKey("m001-a", "desired")), /Permissions Violation/);
  // ...and writing its reported state.
  await assert.rejects(
    () => kv.put(shadowKey("m001-a", "reported"), "{}", { timeout: 2000 } as never),
    /Permissions Violation|timeout/i,
  );
  // Its own key works: the permissions are not simply closed.
  assert.equal(await kv.get(shadowKey("m002-a", "desired")), null);

  await nc.flush();
  assert.deepEqual(heard, [], "nothing reached the victim's subjects");
  watch.unsubscribe();
  const pubRefused = await audited(
    nc,
    "the publish",
    (e) => e.action === "nats.publish_refused" && e.target === subjects.heartbeat(victim),
  );
  assert.equal(pubRefused.actor.subject, "m002-a");
  await audited(
    nc,
    "the subscription",
    (e) => e.action === "nats.subscribe_refused" && e.target === subjects.command(victim, "unlock"),
  );
  await audited(
    nc,
    "the shadow read",
    (e) =>
      e.action === "nats.publish_refused" && e.target.includes("$KV.shadow_local.m001-a.desired"),
  );
});

Deno.test("security: expired device credentials are refused, and the connection using them is ended", async () => {
  await using nats = await startTestNats();
  await using nc = await nats.connect();
  const creds = await nats.deviceCredentials({ deviceId: "m001-a" }, { expiresInS: 2 });
  const device = await connectNats({ url: nats.url, caFile: nats.caFile }, {
    name: "m001-a",
    timeoutMs: 3000,
    reconnect: false,
    credentialsFile: creds,
  });
  const heard: string[] = [];
  const watch = nc.subscribe(subjects.heartbeat(victim), {
    callback: (_e, m) => void heard.push(m.string()),
  });
  await nc.flush();
  device.publish(subjects.heartbeat(victim), "before");
  await eventually(() => heard.length === 1 || undefined, 3000, "the heartbeat before expiry");
  // The server ends the connection when the credentials expire: it says so, and nothing sent
  // on it afterwards gets through. (JWT expiry has whole seconds: be past it.)
  const told = (async () => {
    for await (const st of device.status()) {
      if (st.type === "error") return String((st as { error?: Error }).error?.message);
    }
    return "closed";
  })();
  assert.match(await told, /Authentication Expired/);
  await new Promise((r) => setTimeout(r, 1500));
  device.publish(subjects.heartbeat(victim), "after");
  await new Promise((r) => setTimeout(r, 500));
  assert.deepEqual(heard, ["before"]);
  watch.unsubscribe();
  await device.close().catch(() => {});
  await assert.rejects(
    () =>
      connectNats({ url: nats.url, caFile: nats.caFile }, {
        name: "m001-a",
        timeoutMs: 3000,
        reconnect: false,
        credentialsFile: creds,
      }),
    /Authorization Violation|expired/i,
  );
  await audited(
    nc,
    "the expired credentials",
    (e) => e.action === "nats.authentication_refused" && e.actor.subject === "m001-a",
  );
});

Deno.test("security: a replayed unlock, an unsigned one and one signed by another key open nothing; the device audits each", async () => {
  await using nats = await startTestNats();
  await using nc = await nats.connect();
  const key = await nats.commandKey();
  const hardware = new SimulatedHardware();
  await using _agent = await Agent.start(await testAgentConfig(nats), { ...quiet, hardware });
  const request = (): CommandRequest => ({
    ...newEnvelope(),
    deviceId: "m001-a",
    issuer: "cloud/payments",
    expiresAt: Date.now() + 10_000,
    command: "unlock",
    args: { sessionId: null, durationMs: 5000 },
  });
  const send = async (bytes: Uint8Array) =>
    parseCommandReply(
      (await nc.request(subjects.command(victim, "unlock"), bytes, { timeout: 2000 })).data,
    );
  const captured = await signCommand(request(), key);
  const first = await eventually(() => send(captured).catch(() => undefined), 5000, "the agent");
  assert.ok(first.ok && first.value.status === "ok");
  assert.deepEqual(hardware.unlocks, [5000]);
  // The captured message, sent again as is.
  const replay = await send(captured);
  assert.deepEqual(replay, first, "the replay gets the first answer");
  // Unsigned, and signed by a key the device never pinned (a leaked NATS credential alone).
  const unsigned = await send(commandRequest.encode(request()));
  const otherKey = await generateSigningKey();
  const forged = await send(await signCommand(request(), otherKey));
  for (const r of [unsigned, forged]) {
    assert.ok(r.ok && r.value.status === "error", JSON.stringify(r));
    assert.equal(r.value.error.code, "unauthorized");
  }
  assert.ok(
    !unsigned.ok || unsigned.value.status !== "error" ||
      /unsigned or malformed/.test(unsigned.value.error.message),
  );
  assert.ok(
    !forged.ok || forged.value.status !== "error" ||
      /unknown key/.test(forged.value.error.message),
  );
  assert.deepEqual(hardware.unlocks, [5000], "the door was released once");
  await audited(
    nc,
    "the replay",
    (e) => e.action === "command.replayed" && e.actor.subject === "device:m001-a",
  );
  const refused = await eventually(
    async () => {
      const r = (await auditEntries(nc)).filter((e) => e.action === "command.refused");
      return r.length >= 2 ? r : undefined;
    },
    10_000,
    "two refused commands audited",
  );
  assert.ok(refused.every((e) => e.actor.role === "device" && e.outcome === "refused"));
});

Deno.test("security: a viewer's token cannot unlock, a forged token is refused, and both are audited", async () => {
  await using nats = await startTestNats();
  await using nc = await nats.connect();
  await using svc = await startCloudService(nats, { logger: { log: () => {} } });
  const tokens = await TokenService.open(await new Kvm(nc).create(buckets.service));
  const viewer = await tokens.issue({ subject: "vera", role: "viewer" });
  const api = apiClient(svc.url, viewer);
  const unlock = { command: "unlock", args: { sessionId: null, durationMs: 5000 } };
  const asViewer = await api("POST", "/devices/m001-a/commands", unlock);
  assert.equal(asViewer.status, 403);
  // A token made with a key of the attacker's own, claiming admin.
  const forgedTokens = await TokenService.open(
    await new Kvm(await nats.connect("attacker-kv")).create("attacker_service"),
  );
  const forged = await forgedTokens.issue({ subject: "mallory", role: "admin" });
  const asForger = await api("POST", "/devices/m001-a/commands", unlock, { token: forged });
  assert.equal(asForger.status, 401);
  await audited(
    nc,
    "the viewer's unlock",
    (e) => e.action === "command.unlock" && e.outcome === "refused" && e.actor.subject === "vera",
  );
  await audited(
    nc,
    "the forged token",
    (e) => e.action === "auth.token_refused" && e.target === "POST /devices/m001-a/commands",
  );
  const records = await new Kvm(nc).open(bucketIn(buckets.commands, "local"));
  const sent: string[] = [];
  for await (const k of await records.keys()) sent.push(k);
  assert.deepEqual(sent, [], "no command was sent");
});

Deno.test({
  name:
    "security: a stolen device's cart for a session another cabinet was unlocked for is not charged, and is audited",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using nats = await startTestNats();
    await using nc = await nats.connect();
    await using svc = await startCloudService(nats, { logger: { log: () => {} } });
    const api = apiClient(svc.url, await svc.tokens.issue({ subject: "app", role: "admin" }));
    await using machine = await simulatedMachine(nc, { machineId: "m001" });
    await api("PUT", "/devices/m001-a", { machineId: "m001", role: "primary", region: "local" });
    await eventually(
      () => svc.state.devices.get("m001-a") ? true : undefined,
      5000,
      "m001-a registered",
    );
    const c = await api("POST", "/customers", { email: "vic@example.com" });
    await api("POST", `/customers/${c.body.customerId}/payment-methods`, {
      token: "pm_sandbox_visa",
    });
    const started = await api("POST", "/payments/sessions", {
      customerId: c.body.customerId,
      machineId: "m001",
    });
    assert.equal(started.body.state, "unlocked", JSON.stringify(started.body));
    const sessionId = started.body.sessionId as string;
    assert.deepEqual(machine.unlocked, [sessionId]);
    // m002-a, with its own valid credentials, claims the session's cart: the most it can.
    await using thief = await nats.connectDevice({ deviceId: "m002-a" });
    const forged = {
      ...sessionCompleted(sessionId, [{ sku: "COLA-330", qty: 3 }]),
      deviceId: "m002-a",
    };
    await jetstream(thief, { checkAPI: false }).publish(
      subjects.pipelineEvent({ region: "local", deviceId: "m002-a" }, "session_completed"),
      pipelineEvent.encode(forged),
    );
    await audited(
      nc,
      "the refused cart",
      (e) =>
        e.action === "payment.cart_refused" && e.target === `session/${sessionId}` &&
        e.actor.subject === "device:m002-a",
    );
    const s = await api("GET", `/payments/sessions/${sessionId}`);
    assert.equal(s.body.state, "unlocked", "nothing was charged");
    assert.equal(s.body.captured, 0);
    // The unlocked device's own cart is charged.
    await jetstream(nc).publish(
      subjects.pipelineEvent({ region: "local", deviceId: "m001-a" }, "session_completed"),
      pipelineEvent.encode(sessionCompleted(sessionId, [{ sku: "COLA-330", qty: 1 }])),
    );
    await eventually(
      async () => {
        const r = await api("GET", `/payments/sessions/${sessionId}`);
        return r.body.state === "settled" ? r : undefined;
      },
      10_000,
      "the real cart charged",
    );
    // Whether a session is paid: the unlocked device learns it, another device learns nothing
    // (devices cannot read payment events at all).
    const ask = async (device: NatsConnection, deviceId: string) =>
      (await device.request(
        subjects.sessionStatus({ region: "local", deviceId }),
        JSON.stringify({ sessionIds: [sessionId] }),
        { timeout: 5000 },
      )).json<{ sessions: Record<string, string> }>().sessions[sessionId];
    await using owner = await nats.connectDevice({ deviceId: "m001-a" });
    assert.equal(await ask(owner, "m001-a"), "settled");
    assert.equal(await ask(thief, "m002-a"), "none");
  },
});
