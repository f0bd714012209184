/**
 * `./vend bench flywheel [--appearance-seed S] [--machines N]`: the data flywheel end to end,
 * unattended. A local nats-server, a cloud service process and N simulated machines (a primary
 * and a secondary agent process each, the default model deciding, every door session recorded
 * with ffmpeg.wasm) as in the demo. A product no model has seen (`NEW-1`, its look drawn by the
 * simulated world's renderer from the appearance seed; nothing that trains or decides receives
 * the seed or the look) is added to the price list and stocked in half of each machine's slots
 * by its planogram. Then, with a sandbox customer (simulated) paying for each session:
 *
 * A reviewer (this benchmark, through the review API, carting the simulated truth) corrects at
 * most `--corrections` sessions in all (default 40), in the order they reach review: the first
 * `--corrections` − `--min-reviewed` before training, the rest while the candidate is compared.
 * A session that reaches review once they are spent stays in review, uncorrected.
 *
 * 1. before: sessions play until the reviewer has corrected its share;
 * 2. `./vend train --from-field` fine-tunes the default model on the field samples (their clips
 *    cut again) mixed with synthetic crops;
 * 3. the candidate is published and deployed in shadow mode with
 *    `promotion.minReviewed = --min-reviewed`; sessions play (reviewed while corrections are
 *    left) until the cloud's judge promotes it (a live rollout) or stops it;
 * 4. after: sessions play until `--sessions-after` of them took the new product.
 *
 * The figures of the new product's sessions before and after (review rate, exact charges, wrong
 * charges of every session) and the times. Progress goes to stderr; the last line of stdout is
 * one JSON object.
 *
 * @example
 * ```sh
 * ./vend bench flywheel --appearance-seed 7 --machines 2
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { startLocalNats } from "../cloud/dev/mod.ts";
import { newProduct, shoppingScenario, standardSlots } from "../edge/sim/mod.ts";
import { scenarioTruth } from "../pipeline/mod.ts";
import {
  type DemoApi,
  demoApi,
  loginAdmin,
  singleRegionContext,
  startClouds,
  startDevices,
  stockMachines,
} from "../cli/demo.ts";
import { cartText, type LiveOutcome, playSession, SessionWatch } from "../cli/eval.ts";
import { sleep } from "../runtime/mod.ts";
import { machine } from "./_machine.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    "appearance-seed": { type: "string", default: "1" },
    machines: { type: "string", default: "2" },
    corrections: { type: "string", default: "40" },
    "min-reviewed": { type: "string", default: "20" },
    "sessions-after": { type: "string", default: "100" },
    epochs: { type: "string" },
  },
  strict: true,
});
const count = (name: string, v: string, max: number) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > max) {
    throw new TypeError(`Invalid --${name} "${v}": expected an integer from 0 to ${max}`);
  }
  return n;
};
const APPEARANCE_SEED = count("appearance-seed", values["appearance-seed"], 1e9);
const MACHINES = Math.max(1, count("machines", values.machines, 8));
const CORRECTIONS = Math.max(1, count("corrections", values.corrections, 10_000));
const MIN_REVIEWED = Math.max(1, count("min-reviewed", values["min-reviewed"], 10_000));
if (MIN_REVIEWED >= CORRECTIONS) {
  throw new RangeError(
    `Invalid --min-reviewed ${MIN_REVIEWED}: the shadow comparison's reviews come out of ` +
      `--corrections ${CORRECTIONS}, so it must be smaller`,
  );
}
const SESSIONS_AFTER = Math.max(1, count("sessions-after", values["sessions-after"], 100_000));
const SKU = "NEW-1";
const CAMERAS = { width: 320, height: 240, fps: 5 };
const ROOT = new URL("..", import.meta.url).pathname;
const log = (line: string) => console.error(`[flywheel ${new Date().toISOString()}] ${line}`);

/** The product, as only the simulated world knows it. */
const PRODUCT = newProduct(APPEARANCE_SEED, { sku: SKU });
/** The planogram every machine gets: the new product in slots 1 and 3 of each shelf. */
const SLOTS = standardSlots().map((s) => (s.slot % 2 === 1 ? { ...s, sku: SKU } : s));
const ids = Array.from({ length: MACHINES }, (_, i) => `m${String(i + 1).padStart(3, "0")}`);
const firstSeed = (machineId: string) => 5_000_000 + ids.indexOf(machineId) * 100_000 + 1;

/** What the shopper of `seed` takes at `machineId` (the simulation's truth; only this reads it). */
function truthOf(seed: number, machineId: string) {
  const { scenario } = shoppingScenario(seed, { machineId, slots: SLOTS, products: [PRODUCT] });
  const cart = scenarioTruth(scenario).carts[0] ?? new Map<string, number>();
  return { cart: cartText([...cart].map(([sku, qty]) => ({ sku, qty }))), conditions: [] };
}

const takesNew = (o: LiveOutcome) => o.truth.split(",").some((l) => l.startsWith(`${SKU}x`));

/** The reviewer's corrections left, and the sessions it corrected. */
const reviews = { left: CORRECTIONS - MIN_REVIEWED, done: new Set<string>() };

/** A machine's customer and the seed its next session plays. */
interface Shop {
  readonly machineId: string;
  readonly watch: SessionWatch;
  readonly customerId: string;
  seed: number;
}

/**
 * Plays sessions at every machine at once until `done` says so (asked after each session);
 * each session in review is reviewed with the truth's cart. Returns the outcomes in order.
 */
async function play(
  api: DemoApi,
  shops: readonly Shop[],
  done: (outcomes: readonly LiveOutcome[]) => Promise<boolean> | boolean,
): Promise<LiveOutcome[]> {
  const outcomes: LiveOutcome[] = [];
  let finished = false;
  await Promise.all(shops.map(async (shop) => {
    while (!finished) {
      const o = await playSession(api, shop.watch, {
        machineId: shop.machineId,
        seed: shop.seed,
        truth: truthOf(shop.seed, shop.machineId),
        customerId: shop.customerId,
        timeoutMs: 120_000,
        signal: undefined,
      });
      shop.seed++;
      if (o.failure) throw new Error(`${shop.machineId} seed ${o.seed}: ${o.failure}`);
      const corrected = o.reviewReasons.length > 0 && reviews.left > 0;
      if (corrected) {
        reviews.left--;
        reviews.done.add(o.sessionId);
        const cart = o.truth === "" ? [] : o.truth.split(",").map((l) => {
          const at = l.lastIndexOf("x");
          return { sku: l.slice(0, at), qty: Number(l.slice(at + 1)) };
        });
        await api.call(`/payments/sessions/${o.sessionId}/review`, { cart });
      }
      outcomes.push(o);
      log(
        `${shop.machineId} seed ${o.seed} [${o.truth}] ${
          o.reviewReasons.length
            ? corrected ? "review, corrected" : "review, left"
            : o.charged === o.truth
            ? "exact"
            : `WRONG [${o.charged}]`
        }`,
      );
      if (!finished && await done(outcomes)) finished = true;
    }
  }));
  return outcomes;
}

/** The figures of `outcomes`: all of them, and those that took the new product. */
function figures(outcomes: readonly LiveOutcome[]) {
  const share = (xs: readonly LiveOutcome[], f: (o: LiveOutcome) => boolean) =>
    xs.length === 0 ? 0 : Math.round((xs.filter(f).length / xs.length) * 10000) / 10000;
  const fresh = outcomes.filter(takesNew);
  const exact = (o: LiveOutcome) => o.reviewReasons.length === 0 && o.charged === o.truth;
  return {
    sessions: outcomes.length,
    newSessions: fresh.length,
    reviewRate: share(fresh, (o) => o.reviewReasons.length > 0),
    exact: share(fresh, exact),
    reviewRateAll: share(outcomes, (o) => o.reviewReasons.length > 0),
    exactAll: share(outcomes, exact),
    wrongCharges: outcomes.filter((o) => o.charged !== undefined && o.charged !== o.truth).length,
  };
}

/** Waits until `fn` gives a value, looking every second, for at most `ms`. */
async function until<T>(what: string, ms: number, fn: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(1000);
  }
}

/** Runs `./vend train --from-field` against the API into `out`; resolves with its figures. */
async function trainFromField(
  api: { url: string; token: string; caFile: string | undefined },
  out: string,
): Promise<Record<string, unknown>> {
  const child = new Deno.Command(`${ROOT}vend`, {
    args: [
      "train",
      "--from-field",
      "--base",
      `${ROOT}models/build/default`,
      "--out",
      out,
      "--quiet",
      ...(values.epochs ? ["--epochs", values.epochs] : []),
    ],
    cwd: ROOT,
    env: {
      VEND_API_URL: api.url,
      VEND_API_TOKEN: api.token,
      ...(api.caFile ? { DENO_CERT: api.caFile } : {}),
    },
    stdout: "piped",
    stderr: "inherit",
  });
  const { code, stdout } = await child.output();
  if (code !== 0) throw new Error(`./vend train --from-field exited ${code}`);
  const lines = new TextDecoder().decode(stdout).trim().split("\n");
  return JSON.parse(lines.at(-1)!);
}

/** Uploads the artifact's files and publishes it as `slot-model`; resolves with its version. */
async function publishModel(
  api: { url: string; token: string; client: Deno.HttpClient | undefined },
  dir: string,
): Promise<string> {
  const manifest = JSON.parse(await Deno.readTextFile(`${dir}/model.json`));
  const version: string = manifest.version;
  const names = ["model.json", manifest.file as string];
  const auth = { authorization: `Bearer ${api.token}` };
  const client = api.client ? { client: api.client } : {};
  for (const name of names) {
    const res = await fetch(
      `${api.url}/components/slot-model/versions/${version}/artifacts/${name}`,
      {
        ...client,
        method: "PUT",
        headers: { ...auth, "content-type": "application/octet-stream" },
        body: await Deno.readFile(`${dir}/${name}`),
      },
    );
    if (!res.ok) throw new Error(`upload of ${name}: ${res.status} ${await res.text()}`);
    await res.body?.cancel();
  }
  const res = await fetch(`${api.url}/components/versions`, {
    ...client,
    method: "POST",
    headers: { ...auth, "content-type": "application/json" },
    body: JSON.stringify({
      recipe: {
        component: "slot-model",
        version,
        kind: "model",
        platform: { arch: ["x86_64", "aarch64"] },
      },
      artifacts: names.map((name) => ({ name, uploaded: true })),
    }),
  });
  if (!res.ok) throw new Error(`publishing ${version}: ${res.status} ${await res.text()}`);
  await res.body?.cancel();
  return version;
}

/** Adds the new product to the standard price list, as the operator would. */
async function addToPriceList(api: DemoApi): Promise<void> {
  const list = await api.get("/price-lists/default");
  if (!list) throw new Error("no standard price list");
  const items = list.items as { sku: string }[];
  await api.put("/price-lists/default", {
    currency: list.currency,
    items: [...items, { ...items[0]!, sku: SKU, name: "A new product" }],
  });
}

/** Waits until the deployment `id` completes; throws when it aborts or is cancelled. */
function completed(api: DemoApi, id: string) {
  return until(`deployment ${id}`, 300_000, async () => {
    const d = await api.get(`/deployments/${id}`);
    if (d?.state === "aborted" || d?.state === "cancelled") {
      throw new Error(`deployment ${id} ${d.state}: ${d.reason}`);
    }
    return d?.state === "completed" ? d : undefined;
  });
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const dataDir = await Deno.makeTempDir({ prefix: "vend-bench-flywheel-" });
  const shutdown = new AbortController();
  await using nats = await startLocalNats({
    dataDir: `${dataDir}/server`,
    port: 0,
    signal: shutdown.signal,
  });
  const ctx = await singleRegionContext(nats, shutdown.signal);
  const { client, children } = ctx;
  try {
    const { apis } = await startClouds(ctx, { apiPort: 0, quiet: true });
    const url = apis.get("local")!;
    const { nc, token, commandKey } = await loginAdmin(nats, url);
    const api = demoApi(url, token, { client });
    const trustedKeys = (await api.get("/update-keys")).keys;
    await addToPriceList(api);
    log(`starting ${ids.join(", ")}; the new product's look is drawn from ${APPEARANCE_SEED}`);
    await startDevices(ctx, {
      ids,
      homeOf: () => "local",
      api,
      commandKey,
      cameras: CAMERAS,
      seedOf: (id) => firstSeed(id) - 1,
      dataRoot: `${dataDir}/agents`,
      model: `${ROOT}models/build/default`,
      newProducts: [`${SKU}:${APPEARANCE_SEED}`],
      configure: (role) => ({
        recording: { enabled: true, preRollMs: 1000, postRollMs: 1000, uploadIntervalMs: 500 },
        ...(role === "primary" ? { ota: { trustedKeys } } : {}),
      }),
    });
    await stockMachines(api, ids, { slots: SLOTS });
    const shops: Shop[] = [];
    for (const machineId of ids) {
      const c = await api.call("/customers", { email: `${machineId}@example.com` });
      await api.call(`/customers/${c.customerId}/payment-methods`, { token: "pm_sandbox_visa" });
      const seed = firstSeed(machineId);
      const watch = new SessionWatch(nc, { primary: `${machineId}-a`, firstSeed: seed });
      shops.push({ machineId, watch, customerId: c.customerId, seed });
    }
    const result = await flywheel(api, shops, { url, token, client, caFile: nats.caFile }, t0);
    for (const s of shops) s.watch[Symbol.dispose]();
    await nc.close();
    console.log(JSON.stringify({ bench: "flywheel", ...result, machine: machine() }));
  } finally {
    shutdown.abort();
    await children.stopAll();
    client?.close();
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  }
}

/** The four phases (see the module documentation); resolves with the benchmark's figures. */
async function flywheel(
  api: DemoApi,
  shops: readonly Shop[],
  http: {
    url: string;
    token: string;
    client: Deno.HttpClient | undefined;
    caFile: string | undefined;
  },
  t0: number,
): Promise<Record<string, unknown>> {
  const corrected = (xs: readonly LiveOutcome[]) => xs.filter((o) => reviews.done.has(o.sessionId));
  const before = await play(api, shops, () => reviews.left === 0);
  const fb = figures(before);
  log(`before: ${JSON.stringify(fb)}`);
  // The footage of every corrected session is in (clips upload after the door closes); the
  // dataset lists labelled samples only, so not those left in review.
  await until("the field samples' clips", 300_000, async () => {
    const r = await api.get("/datasets/field?limit=100000");
    const withClips = (r?.samples ?? []).filter((s: { sessionId: string; clips: unknown[] }) =>
      reviews.done.has(s.sessionId) && s.clips.length >= 2
    );
    return withClips.length >= reviews.done.size ? true : undefined;
  });
  const tTrain = performance.now();
  const out = `${await Deno.makeTempDir({ prefix: "vend-flywheel-model-" })}/field`;
  const trained = await trainFromField(
    { url: http.url, token: http.token, caFile: http.caFile },
    out,
  );
  const trainS = (performance.now() - tTrain) / 1000;
  log(`trained in ${trainS.toFixed(0)} s: ${JSON.stringify(trained)}`);
  const version = await publishModel(http, out);
  const shadow = await api.call("/deployments", {
    targets: [{ component: "slot-model", version, mode: "shadow" }],
    selector: { devices: shops.map((s) => `${s.machineId}-a`) },
    policy: { canary: 1, ratePerMinute: 600 },
    promotion: { minReviewed: MIN_REVIEWED },
  });
  await completed(api, shadow.id);
  log(`${version} runs in shadow mode (${shadow.id})`);
  let promotion: { state: string; reason: string | null; followUp: string | null } = {
    state: "comparing",
    reason: null,
    followUp: null,
  };
  reviews.left += MIN_REVIEWED;
  // Once the corrections are spent the judge has what it needs; it gets 20 more sessions' time.
  let spentAt: number | undefined;
  const compared = await play(api, shops, async (xs) => {
    promotion = (await api.get(`/deployments/${shadow.id}`))?.promotion ?? promotion;
    if (reviews.left === 0) spentAt ??= xs.length;
    return promotion.state !== "comparing" || xs.length - (spentAt ?? xs.length) >= 20;
  });
  log(`${promotion.state}: ${promotion.reason}`);
  let after: LiveOutcome[] = [];
  if (promotion.state === "promoted" && promotion.followUp) {
    await completed(api, promotion.followUp);
    after = await play(api, shops, (xs) => xs.filter(takesNew).length >= SESSIONS_AFTER);
  }
  const fa = figures(after);
  return {
    appearance_seed: APPEARANCE_SEED,
    machines: shops.length,
    sessions_before: fb.sessions,
    new_product_sessions_before: fb.newSessions,
    review_rate_before: fb.reviewRate,
    wrong_charges_before: fb.wrongCharges,
    field_sessions_labelled: trained.field_sessions_trained ?? null,
    field_sessions_held_out: trained.field_sessions_held_out ?? null,
    corrected_sessions: reviews.done.size,
    corrected_before: corrected(before).length,
    corrected_new_product_before: corrected(before).filter(takesNew).length,
    corrected_shadow: corrected(compared).length,
    shadow_sessions: compared.length,
    promotion: promotion.state,
    promotion_reason: promotion.reason,
    sessions_after: fa.sessions,
    new_product_sessions_after: fa.newSessions,
    review_rate_after: fa.reviewRate,
    exact_after: fa.exact,
    review_rate_after_all: fa.reviewRateAll,
    exact_after_all: fa.exactAll,
    wrong_charges_after: fa.wrongCharges + figures(compared).wrongCharges,
    train_s: Math.round(trainS * 10) / 10,
    total_s: Math.round((performance.now() - t0) / 100) / 10,
  };
}

await main();
