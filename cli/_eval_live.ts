/**
 * `./vend eval --live`: the scenario seeds played through the live path, so that the distance
 * between the offline evaluation and what a customer is charged is a number. A local NATS, a
 * cloud service process, and one simulated machine (a primary and a secondary agent process
 * with the model, cam-3 over NATS, clock and frame sync) run as in the demo; a customer with a
 * sandbox card (simulated) pays for one session per seed through the API, and the simulated
 * shopper acts that seed's scenario. Each outcome (the receipt charged or the review) is
 * compared with the scenario's truth, which only this evaluator computes: the devices never see
 * it.
 *
 * Which session played which seed follows from how the simulated shopper plays: each unlock
 * opens the door on the scene's next scenario (seed + 1), so the n-th door opened plays the n-th
 * seed; a session whose door did not open played none.
 *
 * @module
 */
import type { NatsConnection, Subscription } from "@nats-io/nats-core";
import { startLocalNats } from "../cloud/dev/mod.ts";
import { reviewReasonKind, scenarioTruth } from "../pipeline/mod.ts";
import { filters, parsePaymentEvent, parsePipelineEvent } from "../protocol/mod.ts";
import { sleep } from "../runtime/mod.ts";
import { loginAdmin } from "./_demo_admin.ts";
import { type DemoApi, demoApi } from "./_demo_api.ts";
import { startClouds } from "./_demo_clouds.ts";
import { stockMachines } from "./_demo_planograms.ts";
import {
  shoppingScenario,
  simulatedWorld,
  standardSlots,
  type WorldName,
} from "../edge/sim/mod.ts";
import { type CameraSettings, startDevices } from "./_demo_devices.ts";
import { singleRegionContext } from "./_demo_topology.ts";

/** The planogram the evaluated machine is given (the simulated cabinet's standard one). */
const EVAL_SLOTS = standardSlots();

/** A cart as sorted `SKUxQTY` text, e.g. `COLA-330x1,WATER-500x2` (empty: nothing taken). */
export type CartText = string;

/** What {@link evaluateLive} plays. */
export interface LiveEvalOptions {
  /** The scenario seeds, consecutive (the simulated scene plays them in turn). */
  readonly seeds: readonly number[];
  /** Every camera's frame size and rate. */
  readonly cameras: CameraSettings;
  /** The model folder the primary decides carts with. */
  readonly model: string;
  /** The world the cabinet films. Default `clean`. */
  readonly world?: WorldName;
  /** A folder for the server's and the devices' data. */
  readonly dataDir: string;
  /** Longest wait for one session's outcome, ms. Default 120,000. */
  readonly sessionTimeoutMs?: number;
  /** Progress lines. Default: none. */
  readonly log?: (line: string) => void;
  /** Stops the evaluation (what it started is stopped). */
  readonly signal?: AbortSignal;
}

/** One session's outcome against its scenario's truth. */
export interface LiveOutcome {
  /** The scenario seed the session played. */
  readonly seed: number;
  /** The payment session (and door session) id. */
  readonly sessionId: string;
  /** What the scenario's shopper took. */
  readonly truth: CartText;
  /** The world's conditions and deviations from the planogram in the scenario, by name. */
  readonly conditions: readonly string[];
  /** What the device decided (undefined: no decision came). */
  readonly decided: CartText | undefined;
  /** What the customer was charged without review (undefined: not charged). */
  readonly charged: CartText | undefined;
  /** Why the session went to review (empty: it did not). */
  readonly reviewReasons: readonly string[];
  /** Why the session failed (the machine did not unlock, no outcome in time), if it did. */
  readonly failure?: string;
}

/** The evaluation's figures. */
export interface LiveReport {
  /** Sessions played. */
  readonly sessions: number;
  /** Share charged exactly the truth, without review. */
  readonly exactMatch: number;
  /** Share sent to review. */
  readonly reviewRate: number;
  /** Share charged something other than the truth. */
  readonly wrongChargeRate: number;
  /** Share that failed (no outcome). */
  readonly failedRate: number;
  /** Review reasons, counted by kind (numbers written `#`). */
  readonly reviewReasons: Readonly<Record<string, number>>;
  /** Per condition of the world (and `none`): its sessions, exact, review and wrong-charge shares. */
  readonly byCondition: Readonly<Record<string, ConditionFigures>>;
  /** Every session. */
  readonly outcomes: readonly LiveOutcome[];
}

/** The figures of the sessions that had one condition of the world. */
export interface ConditionFigures {
  readonly sessions: number;
  readonly exactMatch: number;
  readonly reviewRate: number;
  readonly wrongChargeRate: number;
}

/** The machine the evaluation runs. */
const MACHINE = "m001";

/** The cart text of `lines`, sorted, units above 0 only. */
export function cartText(lines: Iterable<{ sku: string; qty: number }>): CartText {
  return [...lines].filter((l) => l.qty > 0).map((l) => `${l.sku}x${l.qty}`).sort().join(",");
}

/**
 * What the shopper of seed `seed`'s scenario takes at `machineId` in `world` (the simulated
 * truth), and the scenario's conditions: the world's and how its shelves stray from the
 * planogram (`wrong_slot`, `empty_slot`).
 */
export function truthOf(
  seed: number,
  machineId: string,
  world: WorldName = "clean",
): { cart: CartText; conditions: string[] } {
  // The world is stocked by the machine's planogram (the simulated restocker follows it).
  const { scenario, deviations } = shoppingScenario(seed, {
    machineId,
    slots: EVAL_SLOTS,
    ...simulatedWorld(world),
  });
  const cart = scenarioTruth(scenario).carts[0] ?? new Map<string, number>();
  const conditions = [
    ...(scenario.world ?? []),
    ...deviations.map((d) => (d.endsWith("(swapped)") ? "wrong_slot" : "empty_slot")),
  ];
  return { cart: cartText([...cart].map(([sku, qty]) => ({ sku, qty }))), conditions };
}

/** The shares of `outcomes` charged exactly, sent to review, charged wrongly and failed. */
function figures(outcomes: readonly LiveOutcome[]): ConditionFigures & { failedRate: number } {
  const n = outcomes.length;
  const share = (f: (o: LiveOutcome) => boolean) =>
    n === 0 ? 0 : Math.round((outcomes.filter(f).length / n) * 10000) / 10000;
  return {
    sessions: n,
    exactMatch: share((o) => o.charged !== undefined && o.charged === o.truth),
    reviewRate: share((o) => o.reviewReasons.length > 0),
    wrongChargeRate: share((o) => o.charged !== undefined && o.charged !== o.truth),
    failedRate: share((o) => o.failure !== undefined),
  };
}

/** The figures of `outcomes`. */
export function summarise(outcomes: readonly LiveOutcome[]): LiveReport {
  const reviewReasons: Record<string, number> = {};
  for (const o of outcomes) {
    for (const r of o.reviewReasons) {
      const kind = reviewReasonKind(r);
      reviewReasons[kind] = (reviewReasons[kind] ?? 0) + 1;
    }
  }
  const byCondition: Record<string, ConditionFigures> = {};
  const names = new Set(outcomes.flatMap((o) => o.conditions.length ? o.conditions : ["none"]));
  for (const name of [...names].sort()) {
    const { failedRate: _, ...f } = figures(
      outcomes.filter((o) =>
        name === "none" ? o.conditions.length === 0 : o.conditions.includes(name)
      ),
    );
    byCondition[name] = f;
  }
  return { ...figures(outcomes), reviewReasons, byCondition, outcomes };
}

/** What the evaluator hears of a machine: scene announcements, decisions and payments. */
export class SessionWatch implements Disposable {
  readonly #subs: Subscription[] = [];
  /** The seed the next door opening plays. */
  #seed: number;
  readonly #seedOf = new Map<string, number>();
  readonly #decided = new Map<string, CartText>();
  readonly #charged = new Map<string, CartText>();
  readonly #reviews = new Map<string, string[]>();
  readonly #failures = new Map<string, string>();

  /** Listens to the machine of `primary` whose next door opening plays `firstSeed`. */
  constructor(nc: NatsConnection, options: { primary: string; firstSeed: number }) {
    const { primary } = options;
    this.#seed = options.firstSeed;
    this.#subs.push(
      nc.subscribe(filters.pipelineEvents({ deviceId: primary }), {
        callback: (_e, m) => {
          const e = parsePipelineEvent(m.data);
          if (!e.ok) return;
          if (e.value.type === "door_opened" && !this.#seedOf.has(e.value.sessionId)) {
            this.#seedOf.set(e.value.sessionId, this.#seed++);
          }
          if (e.value.type === "session_completed") {
            this.#decided.set(e.value.sessionId, cartText(e.value.cart));
          }
        },
      }),
      nc.subscribe(filters.payments(), {
        callback: (_e, m) => {
          const e = parsePaymentEvent(m.data);
          if (!e.ok) return;
          const { sessionId } = e.value;
          if (e.value.type === "receipt_issued") {
            this.#charged.set(sessionId, cartText(e.value.lines));
          }
          if (e.value.type === "review_required") this.#reviews.set(sessionId, e.value.reasons);
          if (e.value.type === "failed") this.#failures.set(sessionId, e.value.reason);
        },
      }),
    );
  }

  /** The session's outcome once it has one (charged, sent to review or failed). */
  outcome(
    sessionId: string,
  ): Omit<LiveOutcome, "truth" | "seed" | "conditions"> & { seed?: number } | undefined {
    const charged = this.#charged.get(sessionId);
    const reviewReasons = this.#reviews.get(sessionId) ?? [];
    const failure = this.#failures.get(sessionId);
    if (charged === undefined && reviewReasons.length === 0 && failure === undefined) {
      return undefined;
    }
    const seed = this.#seedOf.get(sessionId);
    return {
      sessionId,
      ...(seed !== undefined ? { seed } : {}),
      decided: this.#decided.get(sessionId),
      charged,
      reviewReasons,
      ...(failure !== undefined ? { failure } : {}),
    };
  }

  [Symbol.dispose](): void {
    for (const s of this.#subs) s.unsubscribe();
  }
}

/** Waits until `fn` gives a value, looking every 200 ms, for at most `ms`. */
async function until<T>(
  fn: () => T | undefined | Promise<T | undefined>,
  ms: number,
  signal: AbortSignal | undefined,
): Promise<T | undefined> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const v = await fn();
    if (v !== undefined) return v;
    await sleep(200, signal ? { signal } : {});
  }
  return undefined;
}

/**
 * Plays one session at machine `s.machineId` for `seed` (whose shopper takes `s.truth.cart`)
 * and reads its outcome.
 */
export async function playSession(
  api: DemoApi,
  watch: SessionWatch,
  s: {
    machineId: string;
    seed: number;
    truth: { cart: CartText; conditions: string[] };
    customerId: string;
    timeoutMs: number;
    signal: AbortSignal | undefined;
  },
): Promise<LiveOutcome> {
  const { cart: truth, conditions } = s.truth;
  // One customer at a time, at a machine that is online with its door shut.
  const ready = await until(
    async () => {
      const status = (await api.get(`/devices/${s.machineId}-a`))?.status;
      return status?.status === "online" && status?.door === "closed" ? true : undefined;
    },
    s.timeoutMs,
    s.signal,
  );
  if (!ready) {
    return {
      seed: s.seed,
      sessionId: "",
      truth,
      conditions,
      decided: undefined,
      charged: undefined,
      reviewReasons: [],
      failure: "the machine was not ready",
    };
  }
  const started = await api.call("/payments/sessions", {
    customerId: s.customerId,
    machineId: s.machineId,
  });
  const sessionId = String(started.sessionId);
  const got = await until(() => watch.outcome(sessionId), s.timeoutMs, s.signal);
  if (!got) {
    return {
      seed: s.seed,
      sessionId,
      truth,
      conditions,
      decided: undefined,
      charged: undefined,
      reviewReasons: [],
      failure: `no outcome within ${s.timeoutMs} ms`,
    };
  }
  // A session that was decided played the seed of its door's opening: any other pairing
  // would make the comparison with the truth mean nothing.
  if (got.failure === undefined && got.seed !== s.seed) {
    throw new Error(
      `Session ${sessionId} played ${
        got.seed === undefined ? "no scenario (its door did not open)" : `seed ${got.seed}`
      }, expected seed ${s.seed}`,
    );
  }
  return { ...got, seed: s.seed, truth, conditions };
}

/**
 * Starts the servers and the machine, plays a session per seed in turn, and stops what it
 * started; see the module documentation.
 */
export async function evaluateLive(options: LiveEvalOptions): Promise<LiveReport> {
  const { seeds, signal } = options;
  if (seeds.length === 0 || seeds.some((s, i) => i > 0 && s !== seeds[i - 1]! + 1)) {
    throw new RangeError("Cannot play the seeds: expected one or more consecutive seeds");
  }
  const log = options.log ?? (() => {});
  const timeoutMs = options.sessionTimeoutMs ?? 120_000;
  const shutdown = signal ?? new AbortController().signal;
  await using nats = await startLocalNats({
    dataDir: `${options.dataDir}/server`,
    port: 0,
    signal: shutdown,
  });
  const ctx = await singleRegionContext(nats, shutdown);
  const { client, children } = ctx;
  try {
    const { apis } = await startClouds(ctx, { apiPort: 0, quiet: true });
    const apiUrl = apis.get("local")!;
    const { nc, token, commandKey } = await loginAdmin(nats, apiUrl);
    try {
      const api = demoApi(apiUrl, token, { client });
      using watch = new SessionWatch(nc, { primary: `${MACHINE}-a`, firstSeed: seeds[0]! });
      log(
        `starting ${MACHINE} at ${options.cameras.width}x${options.cameras.height} ${options.cameras.fps} fps`,
      );
      await startDevices(ctx, {
        ids: [MACHINE],
        homeOf: () => "local",
        api,
        commandKey,
        cameras: options.cameras,
        // The scene starts a new scenario (seed + 1) for each session.
        seedOf: () => seeds[0]! - 1,
        dataRoot: `${options.dataDir}/agents`,
        model: options.model,
        world: options.world ?? "clean",
      });
      await stockMachines(api, [MACHINE], { slots: EVAL_SLOTS, ...(signal ? { signal } : {}) });
      const customer = await api.call("/customers", { email: "eval@example.com" });
      await api.call(`/customers/${customer.customerId}/payment-methods`, {
        token: "pm_sandbox_visa",
      });
      const outcomes: LiveOutcome[] = [];
      for (const seed of seeds) {
        const o = await playSession(api, watch, {
          machineId: MACHINE,
          seed,
          truth: truthOf(seed, MACHINE, options.world ?? "clean"),
          customerId: customer.customerId,
          timeoutMs,
          signal,
        });
        outcomes.push(o);
        log(
          `seed ${seed}${
            o.conditions.length ? ` (${o.conditions.join(", ")})` : ""
          }: truth [${o.truth}] ${
            o.failure
              ? `FAILED: ${o.failure}`
              : o.reviewReasons.length
              ? `review: ${o.reviewReasons.join("; ")}`
              : o.charged === o.truth
              ? "charged exactly"
              : `WRONG CHARGE [${o.charged}]`
          }`,
        );
      }
      return summarise(outcomes);
    } finally {
      await nc.close();
    }
  } finally {
    await children.stopAll();
    client?.close();
  }
}
