/**
 * The cloud service killed (SIGKILL, its own process) right after the provider captured a
 * session's cart and before the session recorded it: a new process finishes the session from
 * the redelivered cart and the reconciler, with the same idempotency key, so the customer is
 * charged once, the right amount, and `./vend ledger check` passes. The machine is simulated
 * (its device answers the unlock over NATS); the provider is the sandbox, its state in NATS.
 * Also: the sandbox's faults set by configuration (`VEND_SANDBOX_FAULTS`) in the cloud process.
 */
import assert from "node:assert/strict";
import { jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { KvSandboxStore } from "../cloud/checkout/mod.ts";
import { type NatsTarget, TokenService } from "../cloud/mod.ts";
import { ensureStreams } from "../cloud/nats/mod.ts";
import { DEFAULT_CATALOGUE } from "../models/mod.ts";
import { priceList, SandboxProvider } from "../payments/mod.ts";
import { bucketIn, buckets, pipelineEvent } from "../protocol/mod.ts";
import { eventually } from "./edge_harness.ts";
import { apiClient, lines, natsEnv, ROOT, startTestNats } from "./harness.ts";
import { paymentEvents, sessionCompleted, simulatedMachine } from "./payments_harness.ts";

/** Starts the cloud service program as its own process; resolves with its API URL. */
async function spawnCloud(nats: NatsTarget, fault?: string, env: Record<string, string> = {}) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--frozen", `${ROOT}cli/cloud.ts`],
    env: { ...natsEnv(nats), ...(fault ? { VEND_FAULT: fault } : {}), ...env },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  for await (const line of lines(child.stdout)) {
    if (line.startsWith("api: ")) return { child, url: line.slice(5), stderr };
  }
  throw new Error(`The cloud service did not start: ${await stderr}`);
}

/** Runs the cloud service program with a configuration it must refuse; its exit code and stderr. */
async function refusedCloud(nats: NatsTarget, env: Record<string, string>) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--frozen", `${ROOT}cli/cloud.ts`],
    env: { ...natsEnv(nats), ...env },
    stdout: "null",
    stderr: "piped",
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

Deno.test({
  name: "the cloud process killed between the provider's capture and the state write: a new " +
    "process settles the session, one capture of the right amount, the books balance",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using nats = await startTestNats();
    const nc = await nats.connect();
    await ensureStreams(nc, "local");
    await using machine = await simulatedMachine(nc, { machineId: "m001" });
    const tokens = await TokenService.open(await new Kvm(nc).create(buckets.service));
    const token = await tokens.issue({ subject: "ops", role: "admin" });
    const call = (url: string, method: string, path: string, body?: unknown) =>
      apiClient(url, token)(method, path, body);

    // A bad fault is refused, naming it.
    const bad = await refusedCloud(nats, { VEND_FAULT: "payments:after_lunch" });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /VEND_FAULT: .*got "payments:after_lunch"/);

    const dying = await spawnCloud(nats, "payments:after_capture");
    const api = (method: string, path: string, body?: unknown) =>
      call(dying.url, method, path, body);
    await api("PUT", "/devices/m001-a", { machineId: "m001", role: "primary", region: "local" });
    const c = await api("POST", "/customers", { email: "ada@example.com" });
    await api("POST", `/customers/${c.body.customerId}/payment-methods`, {
      token: "pm_sandbox_visa",
    });
    const s = await api("POST", "/payments/sessions", {
      customerId: c.body.customerId,
      machineId: "m001",
    });
    assert.equal(s.body.state, "unlocked", JSON.stringify(s.body));
    const sessionId = s.body.sessionId as string;
    assert.deepEqual(machine.unlocked, [sessionId]);

    // The door closes; the cart reaches the cloud, which captures and dies before recording it.
    const cart = [{ sku: "COLA-330", qty: 2 }, { sku: "GUM-14", qty: 1 }];
    const prices = priceList(DEFAULT_CATALOGUE);
    const total = 2 * prices.items.get("COLA-330")!.unitPrice +
      prices.items.get("GUM-14")!.unitPrice;
    await jetstream(nc).publish(
      machine.subject,
      pipelineEvent.encode(sessionCompleted(sessionId, cart)),
    );
    const status = await dying.child.status;
    assert.equal(status.signal, "SIGKILL", await dying.stderr);
    assert.match(await dying.stderr, /fault: killed after a provider call/);
    const provider = new SandboxProvider(await KvSandboxStore.open(nc));
    const atProvider = await provider.inspect(s.body.hold.holdId);
    assert.deepEqual([atProvider.status, atProvider.captured], ["captured", total]);
    const stored = await (await new Kvm(nc).open(bucketIn(buckets.paymentSessions, "local"))).get(
      sessionId,
    );
    const interrupted = stored!.json<{ session: { state: string; captured: number } }>().session;
    assert.deepEqual([interrupted.state, interrupted.captured], ["capturing", 0]);

    // A new process (nothing injected) takes the redelivered cart and settles the session.
    const survivor = await spawnCloud(nats);
    try {
      const settled = await eventually(
        async () => {
          const got = await call(survivor.url, "GET", `/payments/sessions/${sessionId}`);
          return got.body.state === "settled" ? got.body : undefined;
        },
        45_000,
        "the session settled by the new process",
      );
      assert.equal(settled.captured, total);
      assert.equal(settled.released, settled.hold.amount - total);
      assert.equal(settled.receiptTotal, total);
      const after = await provider.inspect(s.body.hold.holdId);
      assert.deepEqual([after.status, after.captured, after.settledBy], [
        "captured",
        total,
        `${sessionId}:capture`,
      ]);
      const events = await paymentEvents(nc, sessionId);
      assert.equal(events.filter((e) => e.type === "captured").length, 1);
      assert.equal(events.filter((e) => e.type === "receipt_issued").length, 1);
      const ledger = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--frozen", `${ROOT}cli/ledger.ts`, "check"],
        env: natsEnv(nats),
        stdout: "piped",
        stderr: "piped",
      }).output();
      const report = JSON.parse(new TextDecoder().decode(ledger.stdout).trim().split("\n").at(-1)!);
      assert.equal(ledger.code, 0, new TextDecoder().decode(ledger.stdout));
      assert.deepEqual([report.ok, report.sessions], [true, 1]);
    } finally {
      survivor.child.kill("SIGTERM");
      await survivor.child.status;
      await survivor.stderr;
    }
  },
});

Deno.test({
  name: "the cloud process takes the sandbox provider's faults from VEND_SANDBOX_FAULTS and " +
    "refuses a wrong one, naming it",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using nats = await startTestNats();
    const nc = await nats.connect();
    await ensureStreams(nc, "local");
    await using machine = await simulatedMachine(nc, { machineId: "m001" });
    const bad = await refusedCloud(nats, { VEND_SANDBOX_FAULTS: "authorize:explode" });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /Invalid sandbox fault "authorize:explode"/);

    const tokens = await TokenService.open(await new Kvm(nc).create(buckets.service));
    const cloud = await spawnCloud(nats, undefined, {
      VEND_SANDBOX_FAULTS: "authorize:decline",
    });
    try {
      const api = apiClient(cloud.url, await tokens.issue({ subject: "ops", role: "admin" }));
      await api("PUT", "/devices/m001-a", { machineId: "m001", role: "primary", region: "local" });
      const c = await api("POST", "/customers", { email: "ada@example.com" });
      await api("POST", `/customers/${c.body.customerId}/payment-methods`, {
        token: "pm_sandbox_visa",
      });
      const start = () =>
        api("POST", "/payments/sessions", { customerId: c.body.customerId, machineId: "m001" });
      // The injected decline refuses the first hold; nothing is unlocked. The next one is held.
      const declined = await start();
      assert.equal(declined.body.state, "declined", JSON.stringify(declined.body));
      assert.deepEqual(machine.unlocked, []);
      const held = await start();
      assert.equal(held.body.state, "unlocked");
      assert.deepEqual(machine.unlocked, [held.body.sessionId]);
    } finally {
      cloud.child.kill("SIGTERM");
      await cloud.child.status;
      await cloud.stderr;
    }
  },
});
