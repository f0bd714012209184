/**
 * A machine's planogram belongs to the cloud: operators write it through the API (checked
 * against the machine's price list and the slots its cameras see), it reaches the machine's
 * primary through its desired shadow and is applied between door sessions, and the device
 * refuses one it cannot use and keeps deciding by the one it has. A real nats-server, the cloud
 * service and a real agent deciding carts with the default model; the cabinet is simulated, its
 * restocker filling the shelves by the planogram (and straying from it where a test says so).
 */
import assert from "node:assert/strict";
import { startCloudService } from "../cloud/mod.ts";
import type { Logger } from "../runtime/mod.ts";
import { scenarioTruth } from "../pipeline/mod.ts";
import {
  calibrationReported,
  eventually,
  planogramInUse,
  simulatedCabinet,
  STANDARD_SLOTS,
  usePlanogram,
} from "./edge_harness.ts";
import { apiClient, auditEntries, startTestNats } from "./harness.ts";

const quiet: Logger = { log: () => {} };

Deno.test({
  name: "planogram API: a slot twice, a SKU the machine does not sell and a slot its cameras do " +
    "not see are refused with the field named; If-Match guards each version; writes are audited",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using nats = await startTestNats();
    await using svc = await startCloudService(nats, { logger: quiet });
    const api = apiClient(svc.url, await svc.tokens.issue({ subject: "ops", role: "operator" }));
    const viewer = await svc.tokens.issue({ subject: "eve", role: "viewer" });
    await using _cabinet = await simulatedCabinet(nats, {
      seed: 2000030,
      recognizer: "model",
      isOnline: () => svc.state.statuses.get("m001-a") !== undefined,
    });
    // The primary says which slots its cameras see.
    await calibrationReported(api);
    assert.equal((await api("GET", "/machines/m001/planogram")).status, 404);
    const slots = STANDARD_SLOTS.map((s) => ({ ...s }));
    const operator = await svc.tokens.issue({ subject: "ops", role: "operator" });
    const put = (body: unknown, options: { token?: string; ifMatch?: string } = {}) =>
      fetch(`${svc.url}/machines/m001/planogram`, {
        method: "PUT",
        headers: {
          authorization: `Bearer ${options.token ?? operator}`,
          "content-type": "application/json",
          ...(options.ifMatch ? { "if-match": options.ifMatch } : {}),
        },
        body: JSON.stringify(body),
      }).then(async (r) => ({
        status: r.status,
        etag: r.headers.get("etag"),
        body: await r.json(),
      }));

    assert.equal((await put({ slots }, { token: viewer })).status, 403);
    const twice = await put({ slots: [slots[0], slots[1], { ...slots[0], sku: "TEA-500" }] });
    assert.equal(twice.status, 400);
    assert.equal(twice.body.field, "body.slots.2");
    assert.match(twice.body.detail, /shelf 0 slot 0 is listed twice/);
    const unknown = await put({ slots: [{ ...slots[0], sku: "NOPE-1" }, ...slots.slice(1)] });
    assert.equal(unknown.status, 422);
    assert.equal(unknown.body.field, "body.slots.0.sku");
    assert.match(unknown.body.detail, /"NOPE-1" is not sold at machine m001/);
    const unseen = await put({ slots: [...slots, { shelf: 5, slot: 0, sku: null, par: 0 }] });
    assert.equal(unseen.status, 422);
    assert.equal(unseen.body.field, "body.slots.12");
    assert.match(unseen.body.detail, /shelf 5 slot 0 is seen by no camera of machine m001/);
    assert.equal((await api("GET", "/machines/m001/planogram")).status, 404, "nothing stored");

    const first = await put({ slots });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.body.version, 1);
    assert.equal(first.etag, '"1"');
    await eventually(
      async () => {
        const p = await api("GET", "/machines/m001/planogram");
        return p.body.devices?.find((d: { deviceId: string }) => d.deviceId === "m001-a")?.inUse ===
            1
          ? true
          : undefined;
      },
      20_000,
      "m001-a deciding by version 1",
    );

    // Two operators edit version 1: the second is refused and changes nothing.
    const swapped = slots.map((s, i) => i < 2 ? { ...s, sku: slots[1 - i]!.sku } : s);
    assert.equal((await put({ slots: swapped }, { ifMatch: '"1"' })).status, 200);
    const stale = await put({ slots }, { ifMatch: '"1"' });
    assert.equal(stale.status, 412);
    assert.equal(stale.body.field, "header.if-match");
    const now = await api("GET", "/machines/m001/planogram");
    assert.equal(now.body.version, 2);
    assert.equal(now.body.slots[0].sku, slots[1]!.sku);
    const versions = await api("GET", "/machines/m001/planogram/versions");
    assert.deepEqual(versions.body.items.map((v: { version: number }) => v.version), [2, 1]);
    await eventually(async () => (await planogramInUse(svc, "m001-a")) === 2 ? true : undefined);

    // A planogram the device cannot use (written around the cloud's checks) is refused by the
    // device, which keeps deciding by the one it has, and says why.
    const patched = await api("PATCH", "/devices/m001-a/shadow/desired", {
      planogram: { version: 3, slots: [{ shelf: 9, slot: 9, sku: "COLA-330", par: 1 }] },
    });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    const refused = await eventually(
      async () => {
        const p = await api("GET", "/machines/m001/planogram");
        const d = p.body.devices.find((x: { deviceId: string }) => x.deviceId === "m001-a");
        return d?.errors.length ? d : undefined;
      },
      20_000,
      "the device's refusal",
    );
    assert.equal(refused.inUse, 2);
    assert.equal(refused.errors[0].field, "planogram.slots.0");
    assert.match(refused.errors[0].reason, /shelf 9 slot 9 is seen by no camera/);

    const audited = (await auditEntries(svc.nc)).filter((e) => e.action === "planogram.put");
    // The viewer's, the two refused planograms, the two versions, the stale write.
    assert.deepEqual(
      audited.map((e) => e.outcome),
      ["refused", "refused", "refused", "ok", "ok", "refused"],
    );
  },
});

Deno.test({
  name: "a cabinet decides by the cloud's planogram: a product in the wrong slot or a slot left " +
    "empty is seen from the pixels; the session is charged exactly or goes to review, never wrong",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using nats = await startTestNats();
    await using svc = await startCloudService(nats, { logger: quiet });
    const api = apiClient(svc.url, await svc.tokens.issue({ subject: "app", role: "operator" }));
    // The restocker swaps two slots' products and leaves one slot empty, every time.
    await using cabinet = await simulatedCabinet(nats, {
      seed: 2000040,
      recognizer: "model",
      deviations: { wrongSlot: 1, emptySlot: 1 },
      isOnline: () => svc.state.statuses.get("m001-a") !== undefined,
    });
    await usePlanogram(svc);
    const c = await api("POST", "/customers", { email: "ada@example.com" });
    await api("POST", `/customers/${c.body.customerId}/payment-methods`, {
      token: "pm_sandbox_visa",
    });
    const cartOf = (lines: Iterable<{ sku: string; qty: number }>) =>
      [...lines].filter((l) => l.qty > 0).map((l) => `${l.sku}x${l.qty}`).sort().join(",");
    const reasons: string[] = [];
    for (let round = 0; round < 2; round++) {
      const started = await api("POST", "/payments/sessions", {
        customerId: c.body.customerId,
        machineId: "m001",
      });
      assert.equal(started.status, 201, JSON.stringify(started.body));
      const done = await eventually(
        async () => {
          const s = await api("GET", `/payments/sessions/${started.body.sessionId}`);
          return ["settled", "review"].includes(s.body.state) ? s.body : undefined;
        },
        60_000,
        "settled or in review",
      );
      const scenario = cabinet.scene.current.scenario;
      const truth = cartOf([...scenarioTruth(scenario).carts[0]!].map(([sku, qty]) => ({
        sku,
        qty,
      })));
      if (done.state === "review") {
        assert.equal(done.captured, 0);
        reasons.push(...done.reviewReasons);
        continue;
      }
      assert.equal(cartOf(done.cart), truth, "charged for what was taken, nothing else");
    }
    // The swapped products are seen where the planogram says others stand.
    assert.ok(
      reasons.some((r) => /holds \S+ (before|after) the session; the planogram says/.test(r)),
      JSON.stringify(reasons),
    );
  },
});
