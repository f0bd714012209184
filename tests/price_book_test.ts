/** Price lists in NATS (real nats-server): the book, and a payment session priced at its start. */
import assert from "node:assert/strict";
import {
  KvSandboxStore,
  PaymentService,
  PriceBook,
  PriceListError,
  PriceListNotFoundError,
  PriceMismatchError,
} from "../cloud/checkout/mod.ts";
import { RevisionConflictError } from "../cloud/fleet/mod.ts";
import { startCloudService } from "../cloud/mod.ts";
import { ensureStreams } from "../cloud/nats/mod.ts";
import { DEFAULT_CATALOGUE } from "../models/mod.ts";
import { priceList, SandboxProvider } from "../payments/mod.ts";
import { startTestNats } from "./harness.ts";
import { sessionCompleted } from "./payments_harness.ts";

const catalogue = priceList(DEFAULT_CATALOGUE);
const usd = {
  currency: "USD",
  items: [
    { sku: "COLA-330", name: "Cola 12 oz", unitPrice: 275 },
    { sku: "GUM-14", name: "Gum", unitPrice: 150 },
  ],
};

Deno.test("PriceBook seeds the catalogue as list default once, stores lists, refuses a bad one naming the field, and reads an old revision", async () => {
  await using nats = await startTestNats();
  const nc = await nats.connect();
  try {
    const book = await PriceBook.open(nc, { seed: catalogue });
    const seeded = await book.get("default");
    assert.equal(seeded?.currency, catalogue.currency);
    assert.equal(seeded?.items.length, catalogue.items.size);
    // A second instance's seed does not replace what is there.
    await book.put("default", usd, { by: "operator/ana" });
    await PriceBook.open(nc, { seed: catalogue });
    assert.equal((await book.get("default"))?.currency, "USD");
    // Refused, naming the field; nothing is written.
    const bad = { ...usd, items: [{ sku: "COLA-330", name: "Cola", unitPrice: -1 }] };
    await assert.rejects(
      () => book.put("us", bad, { by: "operator/ana" }),
      (e) => e instanceof PriceListError && e.field === "items[0].unitPrice",
    );
    const twice = { ...usd, items: [usd.items[0]!, usd.items[0]!] };
    await assert.rejects(
      () => book.put("us", twice, { by: "operator/ana" }),
      (e) => e instanceof PriceListError && e.field === "items[1].sku",
    );
    await assert.rejects(() => book.put("US!", usd, { by: "x" }), TypeError);
    assert.equal(await book.get("us"), undefined);
    // Created only if new (revision 0), then replaced only at its revision.
    const first = await book.put("us", usd, { by: "operator/ana", revision: 0 });
    await assert.rejects(
      () => book.put("us", usd, { by: "operator/ana", revision: 0 }),
      RevisionConflictError,
    );
    const dearer = { ...usd, items: [{ ...usd.items[0]!, unitPrice: 300 }, usd.items[1]!] };
    const second = await book.put("us", dearer, { by: "operator/bo", revision: first.revision });
    await assert.rejects(
      () => book.put("us", usd, { by: "operator/ana", revision: first.revision }),
      RevisionConflictError,
    );
    assert.deepEqual((await book.list()).map((l) => l.id), ["default", "us"]);
    // A machine sells at its list; the old revision still reads as it was.
    assert.equal((await book.forMachine("m001")).ref?.id, "default");
    await book.assign("m001", "us");
    const now = await book.forMachine("m001");
    assert.deepEqual(now.ref, { id: "us", revision: second.revision });
    assert.equal(now.list.items.get("COLA-330")?.unitPrice, 300);
    const then = await book.at({ id: "us", revision: first.revision });
    assert.equal(then.items.get("COLA-330")?.unitPrice, 275);
    assert.equal(then.version, `us@${first.revision}`);
    await assert.rejects(
      () => book.at({ id: "us", revision: seeded!.revision }), // another key's revision
      PriceListNotFoundError,
    );
    await assert.rejects(() => book.assign("m002", "nowhere"), PriceListNotFoundError);
    await book.assign("m001", null);
    assert.equal(await book.assignment("m001"), "default");
    // Writing the same content again changes nothing.
    assert.equal((await book.put("us", dearer, { by: "operator/cy" })).revision, second.revision);
    // A revision outlives the list's history (64 values per key), even for a fresh instance.
    for (let i = 0; i < 70; i++) {
      await book.put("us", { ...usd, items: [{ ...usd.items[0]!, unitPrice: 400 + i }] }, {
        by: "operator/bo",
      });
    }
    const fresh = await PriceBook.open(nc);
    const kept = await fresh.at({ id: "us", revision: first.revision });
    assert.equal(kept.items.get("COLA-330")?.unitPrice, 275);
    assert.equal((await fresh.forMachine("m001")).list.currency, "USD"); // default is USD now
  } finally {
    await nc.close();
  }
});

Deno.test("PriceBook keeps the catalogue's default list current with the catalogue, but never replaces an operator's", async () => {
  await using nats = await startTestNats();
  const nc = await nats.connect();
  try {
    const v1 = { ...catalogue, version: "cat-1" };
    const book = await PriceBook.open(nc, { seed: v1 });
    const items = new Map(catalogue.items);
    items.set("NEW-1", { name: "New thing", unitPrice: 123 });
    const v2 = { ...catalogue, items, version: "cat-2" };
    await PriceBook.open(nc, { seed: v2 });
    const updated = await book.get("default");
    assert.equal(updated?.updatedBy, "catalogue cat-2");
    assert.ok(updated?.items.some((i) => i.sku === "NEW-1"));
    // An operator's default stays, whatever the catalogue does.
    await book.put("default", usd, { by: "operator/ana" });
    await PriceBook.open(nc, { seed: { ...v2, version: "cat-3" } });
    assert.equal((await book.get("default"))?.updatedBy, "operator/ana");
  } finally {
    await nc.close();
  }
});

Deno.test("a payment session is charged the prices of its start, not a price changed while its door was open", async () => {
  await using nats = await startTestNats();
  const nc = await nats.connect();
  try {
    await ensureStreams(nc, "local");
    const book = await PriceBook.open(nc, { seed: catalogue });
    await book.put("us", usd, { by: "operator/ana" });
    await book.assign("m007", "us");
    const p = await PaymentService.open(nc, {
      region: "local",
      provider: new SandboxProvider(await KvSandboxStore.open(nc)),
      prices: book,
      unlocker: {
        unlock: (machineId, sessionId) =>
          Promise.resolve({
            deviceId: `${machineId}-a`,
            commandId: `cmd-${sessionId.slice(4, 20)}`,
          }),
      },
    });
    const c = await p.registerCustomer({ email: "ada@example.com" });
    await p.addPaymentMethod(c.customerId, { token: "pm_sandbox_visa" });
    const open = await p.start({ customerId: c.customerId, machineId: "m007" });
    assert.equal(open.currency, "USD");
    assert.equal(open.priceList?.id, "us");
    // The price goes up while the customer's door is open.
    await book.put("us", { ...usd, items: [{ ...usd.items[0]!, unitPrice: 999 }, usd.items[1]!] }, {
      by: "operator/bo",
    });
    const cart = [{ sku: "COLA-330", qty: 2 }];
    const done = await p.cartArrived(sessionCompleted(open.sessionId, cart, { machineId: "m007" }));
    assert.equal(done?.state, "settled");
    assert.equal(done?.receiptTotal, 2 * 275);
    assert.deepEqual(done?.receiptLines?.map((l) => [l.name, l.unitPrice]), [["Cola 12 oz", 275]]);
    // The next session pays the new price; another machine sells at the default list in EUR.
    const next = await p.start({ customerId: c.customerId, machineId: "m007" });
    const paid = await p.cartArrived(sessionCompleted(next.sessionId, cart, { machineId: "m007" }));
    assert.equal(paid?.receiptTotal, 2 * 999);
    const eu = await p.start({ customerId: c.customerId, machineId: "m001" });
    assert.equal(eu.currency, catalogue.currency);
    // The customer was shown other prices, or another currency: no session, no hold.
    const shown = (await p.pricesFor("m007")).version;
    await book.put("us", usd, { by: "operator/ana" });
    await assert.rejects(
      () => p.start({ customerId: c.customerId, machineId: "m007", prices: shown }),
      (e) => e instanceof PriceMismatchError && e.field === "prices",
    );
    await assert.rejects(
      () => p.start({ customerId: c.customerId, machineId: "m007", currency: "EUR" }),
      (e) => e instanceof PriceMismatchError && e.field === "currency",
    );
    const now = (await p.pricesFor("m007")).version;
    const ok = await p.start({ customerId: c.customerId, machineId: "m007", prices: now });
    assert.equal(ok.state, "unlocked");
    assert.deepEqual(await p.checkLedger(), []);
  } finally {
    await nc.close();
  }
});

Deno.test("admins write price lists and assign them to machines through the API; bad requests get problem+json naming the field", async () => {
  await using nats = await startTestNats();
  await using svc = await startCloudService(nats, { logger: { log: () => {} } });
  const admin = await svc.tokens.issue({ subject: "admin-1", role: "admin" });
  const viewer = await svc.tokens.issue({ subject: "viewer-1", role: "viewer" });
  const call = async (
    method: string,
    path: string,
    token: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ) => {
    const res = await fetch(`${svc.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return {
      status: res.status,
      type: res.headers.get("content-type"),
      etag: res.headers.get("etag"),
      body: await res.json(),
    };
  };
  // The catalogue is the default list from the start.
  const listed = await call("GET", "/price-lists", viewer);
  assert.deepEqual(listed.body.items.map((l: { id: string }) => l.id), ["default"]);
  assert.equal((await call("PUT", "/price-lists/us", viewer, usd)).status, 403);
  const put = await call("PUT", "/price-lists/us", admin, usd);
  assert.equal(put.status, 200, JSON.stringify(put.body));
  assert.equal(put.body.updatedBy, "admin-1");
  assert.ok(put.etag);
  const bad = await call("PUT", "/price-lists/us", admin, {
    ...usd,
    items: [{ sku: "COLA-330", name: "Cola", unitPrice: 2.5 }],
  });
  assert.equal(bad.status, 400);
  assert.equal(bad.type, "application/problem+json");
  assert.match(bad.body.field, /^body\.items\.?\[?0\]?\.unitPrice$/);
  const twice = await call("PUT", "/price-lists/us", admin, {
    ...usd,
    items: [usd.items[0], usd.items[0]],
  });
  assert.equal(twice.status, 400);
  assert.match(twice.body.field, /^body\.items\.?\[?1\]?\.sku$/);
  // A write at a stale ETag is refused; at the current one it lands.
  const dearer = { ...usd, items: [{ ...usd.items[0]!, unitPrice: 300 }, usd.items[1]!] };
  const again = await call("PUT", "/price-lists/us", admin, dearer, { "if-match": put.etag! });
  assert.equal(again.status, 200);
  const stale = await call("PUT", "/price-lists/us", admin, usd, { "if-match": put.etag! });
  assert.equal(stale.status, 412);
  // A machine sells at the list it is given; an unknown list is a 404 naming the field.
  const nowhere = await call("PUT", "/machines/m001/price-list", admin, { priceList: "nowhere" });
  assert.deepEqual([nowhere.status, nowhere.body.field], [404, "body.priceList"]);
  assert.equal(
    (await call("PUT", "/machines/m001/price-list", viewer, { priceList: "us" })).status,
    403,
  );
  const operator = await svc.tokens.issue({ subject: "op-1", role: "operator" });
  const customer = await call("POST", "/customers", operator, { email: "ada@example.com" });
  const customerId = customer.body.customerId;
  await call("POST", `/customers/${customerId}/payment-methods`, operator, {
    token: "pm_sandbox_visa",
  });
  const shown = (await call("GET", "/machines/m001/prices", viewer)).body.version;
  const assigned = await call("PUT", "/machines/m001/price-list", admin, { priceList: "us" });
  // A session asked at the prices shown before the change is refused, naming the field.
  const late = await call("POST", "/payments/sessions", operator, {
    customerId,
    machineId: "m001",
    prices: shown,
  });
  assert.deepEqual([late.status, late.body.field], [409, "body.prices"], JSON.stringify(late.body));
  assert.deepEqual(assigned.body, { machineId: "m001", priceList: "us" });
  const prices = await call("GET", "/machines/m001/prices", viewer);
  assert.equal(prices.body.currency, "USD");
  assert.equal(prices.body.version, `us@${Number(again.etag!.replaceAll('"', ""))}`);
  assert.deepEqual(
    prices.body.items.map((i: { sku: string; unitPrice: number }) => [i.sku, i.unitPrice]),
    [["COLA-330", 300], ["GUM-14", 150]],
  );
  assert.equal((await call("GET", "/machines/m002/prices", viewer)).body.currency, "EUR");
  // The writes are audited.
  const audit = await call("GET", "/audit?action=prices.put", admin);
  assert.ok(
    JSON.stringify(audit.body).includes("price-list/us"),
    `audit: ${JSON.stringify(audit.body).slice(0, 300)}`,
  );
});
