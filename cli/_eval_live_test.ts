import assert from "node:assert/strict";
import { randomScenario, standardCameras } from "../pipeline/mod.ts";
import { standardSlots } from "../edge/sim/mod.ts";
import { cartText, type LiveOutcome, summarise, truthOf } from "./_eval_live.ts";

const outcome = (o: Partial<LiveOutcome>): LiveOutcome => ({
  seed: 1,
  sessionId: "s",
  truth: "COLA-330x1",
  conditions: [],
  decided: "COLA-330x1",
  charged: undefined,
  reviewReasons: [],
  ...o,
});

Deno.test("cartText sorts the lines and leaves out what was not taken", () => {
  assert.equal(
    cartText([{ sku: "WATER-500", qty: 2 }, { sku: "COLA-330", qty: 1 }, {
      sku: "TEA-500",
      qty: 0,
    }]),
    "COLA-330x1,WATER-500x2",
  );
  assert.equal(cartText([]), "");
});

Deno.test("truthOf is what the seed's shopper takes at the machine stocked by its planogram", () => {
  const seeds = [2000001, 2000002, 2000003];
  const truths = seeds.map((s) => truthOf(s, "m001").cart);
  const planned = standardSlots();
  for (const [i, seed] of seeds.entries()) {
    // The shopper's hand goes to the same slots; the products there are the planogram's.
    const net = new Map<string, number>();
    for (const a of randomScenario(seed, { cameras: standardCameras("m001") }).actions) {
      const sku = planned[a.shelf * 4 + a.slot]!.sku!;
      net.set(sku, (net.get(sku) ?? 0) + (a.kind === "take" ? 1 : -1));
    }
    const want = cartText([...net].map(([sku, qty]) => ({ sku, qty })));
    assert.equal(truths[i], want, `seed ${seed}`);
  }
  assert.ok(
    new Set(truths).size > 1,
    `three seeds, one cart (${truths[0]}): the test proves nothing`,
  );
});

Deno.test("summarise tells exact charges, reviews, wrong charges and failures apart", () => {
  const report = summarise([
    outcome({ charged: "COLA-330x1" }),
    outcome({ charged: "COLA-330x2" }),
    outcome({ reviewReasons: ["confidence 0.50 below 0.80"] }),
    outcome({ reviewReasons: ["confidence 0.70 below 0.80", "camera cam-3 lost"] }),
    outcome({ decided: undefined, failure: "no outcome within 1000 ms" }),
  ]);
  assert.equal(report.sessions, 5);
  assert.equal(report.exactMatch, 0.2);
  assert.equal(report.wrongChargeRate, 0.2);
  assert.equal(report.reviewRate, 0.4);
  assert.equal(report.failedRate, 0.2);
  assert.deepEqual(report.reviewReasons, { "confidence # below #": 2, "camera cam-3 lost": 1 });
  assert.equal(summarise([]).exactMatch, 0);
});

Deno.test("truthOf in the hard world names its conditions and counts a second hand's take", () => {
  const named = new Set<string>();
  let moreTaken = 0;
  for (let seed = 2000001; seed <= 2000060; seed++) {
    const clean = truthOf(seed, "m001");
    const hard = truthOf(seed, "m001", "hard");
    assert.deepEqual(clean.conditions, []);
    for (const c of hard.conditions) named.add(c);
    const units = (cart: string) =>
      cart === "" ? 0 : cart.split(",").reduce((n, l) => n + Number(l.split("x").at(-1)), 0);
    if (hard.conditions.includes("two_hands")) {
      assert.ok(units(hard.cart) >= units(clean.cart), `seed ${seed}`);
      if (units(hard.cart) > units(clean.cart)) moreTaken++;
    }
  }
  for (const c of ["site_lighting", "knocked_camera", "take_and_return", "two_hands"]) {
    assert.ok(named.has(c), `no seed of 60 has ${c}`);
  }
  assert.ok(moreTaken > 0, "a second hand never took anything");
});

Deno.test("summarise gives the figures of each condition of the world", () => {
  const report = summarise([
    outcome({ charged: "COLA-330x1" }),
    outcome({ charged: "COLA-330x1", conditions: ["two_hands"] }),
    outcome({ reviewReasons: ["x"], conditions: ["two_hands", "site_lighting"] }),
  ]);
  assert.deepEqual(report.byCondition, {
    none: { sessions: 1, exactMatch: 1, reviewRate: 0, wrongChargeRate: 0 },
    site_lighting: { sessions: 1, exactMatch: 0, reviewRate: 1, wrongChargeRate: 0 },
    two_hands: { sessions: 2, exactMatch: 0.5, reviewRate: 0.5, wrongChargeRate: 0 },
  });
});
