/**
 * Scenarios for the synthetic camera: a cabinet with shelves and product slots (a planogram of
 * SKUs), door sessions, a hand taking and returning products at given times, lighting changes,
 * sensor noise and motion blur, all deterministic from a seed, with the ground truth of every
 * event.
 *
 * @example
 * ```ts
 * import { randomScenario, scenarioTruth } from "./scenario.ts";
 *
 * const scenario = randomScenario(42);
 * console.log(scenarioTruth(scenario).carts[0]); // what the shopper took, net of returns
 * ```
 *
 * @module
 */

/** How a product looks on the shelf. */
export interface ProductLook {
  /** Body colour, RGB. */
  readonly color: readonly [number, number, number];
  /** Accent colour of the pattern, RGB. */
  readonly accent: readonly [number, number, number];
  /** Pattern of the accent on the body. */
  readonly pattern: "solid" | "stripes" | "band" | "dots";
  /** Silhouette. */
  readonly shape: "can" | "bottle" | "box" | "bag";
}

/** A product the renderer can draw. */
export interface Product {
  /** SKU. */
  readonly sku: string;
  /** Display name. */
  readonly name: string;
  /** Appearance. */
  readonly look: ProductLook;
}

/** The default assortment used by the demo, the tests and the training data. */
export const DEFAULT_PRODUCTS: readonly Product[] = [
  {
    sku: "COLA-330",
    name: "Cola 330 ml",
    look: { color: [200, 20, 30], accent: [240, 240, 240], pattern: "band", shape: "can" },
  },
  {
    sku: "LEMON-330",
    name: "Lemon soda 330 ml",
    look: { color: [230, 220, 40], accent: [40, 140, 40], pattern: "stripes", shape: "can" },
  },
  {
    sku: "WATER-500",
    name: "Water 500 ml",
    look: { color: [120, 180, 230], accent: [20, 60, 160], pattern: "band", shape: "bottle" },
  },
  {
    sku: "ORANGE-500",
    name: "Orange juice 500 ml",
    look: { color: [245, 140, 20], accent: [250, 250, 200], pattern: "dots", shape: "bottle" },
  },
  {
    sku: "CHIPS-50",
    name: "Chips 50 g",
    look: { color: [250, 200, 30], accent: [200, 30, 30], pattern: "band", shape: "bag" },
  },
  {
    sku: "CHOCO-45",
    name: "Chocolate bar 45 g",
    look: { color: [90, 50, 30], accent: [230, 200, 150], pattern: "stripes", shape: "box" },
  },
  {
    sku: "GUM-14",
    name: "Mint gum",
    look: { color: [40, 170, 120], accent: [250, 250, 250], pattern: "dots", shape: "box" },
  },
  {
    sku: "TEA-500",
    name: "Iced tea 500 ml",
    look: { color: [150, 70, 20], accent: [250, 220, 60], pattern: "band", shape: "bottle" },
  },
  {
    sku: "ENERGY-250",
    name: "Energy drink 250 ml",
    look: { color: [30, 30, 40], accent: [120, 230, 40], pattern: "stripes", shape: "can" },
  },
  {
    sku: "NUTS-75",
    name: "Salted nuts 75 g",
    look: { color: [120, 60, 140], accent: [240, 200, 90], pattern: "solid", shape: "bag" },
  },
  {
    sku: "COOKIE-90",
    name: "Cookies 90 g",
    look: { color: [60, 90, 200], accent: [250, 250, 250], pattern: "dots", shape: "box" },
  },
  {
    sku: "MILK-250",
    name: "Milk 250 ml",
    look: { color: [245, 245, 245], accent: [40, 90, 200], pattern: "band", shape: "box" },
  },
];

/** One slot of a shelf: the SKU it holds and how many units at the start. */
export interface Slot {
  /** SKU, or null for an empty slot. */
  readonly sku: string | null;
  /** Units at the start of the scenario. */
  readonly stock: number;
}

/** A taking or returning of one unit by the shopper's hand. */
export interface HandAction {
  /** What the hand does. */
  readonly kind: "take" | "return";
  /** SKU of the unit. */
  readonly sku: string;
  /** Shelf index, from the top. */
  readonly shelf: number;
  /** Slot index on the shelf, from the left. */
  readonly slot: number;
  /** Moment the unit leaves (take) or reaches (return) the slot, ms from the scenario start. */
  readonly at: number;
  /** Which of the shopper's hands: 0 (the usual one, from the front) or 1 (from the left). Default 0. */
  readonly hand?: 0 | 1;
}

/** One door session: the door opens, the shopper acts, the door closes. */
export interface DoorSession {
  /** Session id in the ground truth. */
  readonly id: string;
  /** Door opening, ms from the scenario start. */
  readonly openAt: number;
  /** Door closing, ms from the scenario start. */
  readonly closeAt: number;
}

/** Where a camera looks from, in scene units (the cabinet front is the unit square). */
export interface CameraPose {
  /** Camera id. */
  readonly cameraId: string;
  /** Device the camera is attached to. */
  readonly deviceId: string;
  /** Horizontal shift of the view, in scene widths. */
  readonly x: number;
  /** Vertical shift of the view, in scene heights. */
  readonly y: number;
  /** Magnification (1 = the whole cabinet fills the frame). */
  readonly zoom: number;
  /** Rotation of the picture about its centre, degrees (a camera knocked askew). Default 0. */
  readonly roll?: number;
}

/** A site's lighting: the colour of its light and a lamp to one side. */
export interface SiteLight {
  /** Gain per channel (R, G, B), the site's brightness included (1 = the nominal light). */
  readonly tint: readonly [number, number, number];
  /** Brightness change from the frame's centre to its right edge, as a share (-0.5..0.5). */
  readonly slope: number;
}

/** A door that opens only partly. */
export interface PartDoor {
  /** How far it opens, 0..1: the light let in rises that far. */
  readonly opening: number;
  /** Where its edge stands in the cabinet's width while open; the glass covers the rest. */
  readonly edge: number;
}

/** Everything the synthetic camera needs to render any camera at any time. */
export interface Scenario {
  /** Seed of every random choice, including noise. */
  readonly seed: number;
  /** Length of the scenario, ms. */
  readonly durationMs: number;
  /** Products that can appear. */
  readonly products: readonly Product[];
  /** Planogram: shelves from the top, slots from the left. */
  readonly shelves: readonly (readonly Slot[])[];
  /** Door sessions, in time order, not overlapping. */
  readonly sessions: readonly DoorSession[];
  /** Hand actions, in time order, each inside a door session. */
  readonly actions: readonly HandAction[];
  /** Lighting gain changes (1 = nominal), in time order. */
  readonly lighting: readonly { readonly at: number; readonly gain: number }[];
  /** Standard deviation of the sensor noise, in 8-bit levels. */
  readonly noise: number;
  /** Whether moving things blur over the exposure. */
  readonly motionBlur: boolean;
  /** A second hand that hovers in front of the shelves during sessions (occlusion). */
  readonly occluder: boolean;
  /** The cameras. */
  readonly cameras: readonly CameraPose[];
  /** Another site's light than the nominal one. Default the nominal. */
  readonly site?: SiteLight;
  /** A door that opens only partly. Default: it opens fully. */
  readonly door?: PartDoor;
  /** The world's conditions beyond the training set in this scenario, by name (see world_conditions.ts). */
  readonly world?: readonly string[];
}

/** A ground-truth event. */
export type TruthEvent =
  | { readonly type: "door_opened"; readonly sessionId: string; readonly at: number }
  | { readonly type: "door_closed"; readonly sessionId: string; readonly at: number }
  | {
    readonly type: "item_taken" | "item_returned";
    readonly sessionId: string;
    readonly sku: string;
    readonly shelf: number;
    readonly slot: number;
    readonly at: number;
  };

/** What happened in a scenario. */
export interface ScenarioTruth {
  /** Every event in time order. */
  readonly events: readonly TruthEvent[];
  /** Per session (same order as `sessions`): SKU -> units taken, net of returns (only > 0). */
  readonly carts: readonly ReadonlyMap<string, number>[];
}

/** The standard 3 cameras: two on the primary device, one on the secondary. */
export function standardCameras(machineId = "m001"): CameraPose[] {
  return [
    { cameraId: "cam-1", deviceId: `${machineId}-a`, x: 0, y: 0, zoom: 1 },
    { cameraId: "cam-2", deviceId: `${machineId}-a`, x: 0.04, y: -0.03, zoom: 1.08 },
    { cameraId: "cam-3", deviceId: `${machineId}-b`, x: -0.05, y: 0.02, zoom: 0.95 },
  ];
}

/** Mulberry32: a small, fast, seedable PRNG returning [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Options of {@link randomScenario}. */
export interface RandomScenarioOptions {
  /** Number of door sessions. Default 1. */
  readonly sessions?: number;
  /** Takes per session, inclusive range. Default [1, 3]. */
  readonly takes?: readonly [number, number];
  /** Probability that a taken unit is put back later in the session. Default 0.2. */
  readonly returnProbability?: number;
  /** Lighting changes, more noise and an occluding hand. Default false. */
  readonly hard?: boolean;
  /** Shelves and slots per shelf. Default 3 x 4. */
  readonly layout?: readonly [number, number];
  /** Products to stock. Default {@link DEFAULT_PRODUCTS}. */
  readonly products?: readonly Product[];
  /** Cameras. Default {@link standardCameras}. */
  readonly cameras?: readonly CameraPose[];
}

/** Time the hand needs to reach a slot and to withdraw, ms. */
export const HAND_MOVE_MS = 600;

/** A random but reproducible scenario. */
export function randomScenario(seed: number, options: RandomScenarioOptions = {}): Scenario {
  if (!Number.isInteger(seed)) {
    throw new TypeError(`Invalid scenario seed ${seed}: expected an integer`);
  }
  const rand = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const products = options.products ?? DEFAULT_PRODUCTS;
  const [shelfCount, slotCount] = options.layout ?? [3, 4];
  const [minTakes, maxTakes] = options.takes ?? [1, 3];
  const returnProbability = options.returnProbability ?? 0.2;
  const hard = options.hard ?? false;

  // Each slot a distinct SKU where possible, so the shelf state tells SKUs apart.
  const skus = products.map((p) => p.sku);
  for (let i = skus.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [skus[i], skus[j]] = [skus[j]!, skus[i]!];
  }
  const stock: number[][] = [];
  const shelves: Slot[][] = [];
  for (let s = 0; s < shelfCount; s++) {
    const row: Slot[] = [];
    stock.push([]);
    for (let k = 0; k < slotCount; k++) {
      const sku = skus[(s * slotCount + k) % skus.length]!;
      const units = 1 + Math.floor(rand() * 4);
      row.push({ sku, stock: units });
      stock[s]!.push(units);
    }
    shelves.push(row);
  }

  const sessions: DoorSession[] = [];
  const actions: HandAction[] = [];
  let t = 1000;
  const sessionCount = options.sessions ?? 1;
  for (let n = 0; n < sessionCount; n++) {
    const openAt = t;
    let at = openAt + 800 + Math.floor(rand() * 400);
    const takes = minTakes + Math.floor(rand() * (maxTakes - minTakes + 1));
    const held: HandAction[] = [];
    for (let i = 0; i < takes; i++) {
      const full: Array<[number, number]> = [];
      stock.forEach((row, s) => row.forEach((units, k) => units > 0 && full.push([s, k])));
      if (full.length === 0) break;
      const [s, k] = pick(full);
      stock[s]![k]!--;
      const take: HandAction = { kind: "take", sku: shelves[s]![k]!.sku!, shelf: s, slot: k, at };
      actions.push(take);
      held.push(take);
      at += 2 * HAND_MOVE_MS + 300 + Math.floor(rand() * 500);
      if (rand() < returnProbability && held.length > 0) {
        const back = held.splice(Math.floor(rand() * held.length), 1)[0]!;
        stock[back.shelf]![back.slot]!++;
        actions.push({ ...back, kind: "return", at });
        at += 2 * HAND_MOVE_MS + 300 + Math.floor(rand() * 500);
      }
    }
    const closeAt = at + 200 + Math.floor(rand() * 600);
    sessions.push({ id: `s${seed}-${n + 1}`, openAt, closeAt });
    t = closeAt + 1500;
  }

  const lighting = [{ at: 0, gain: 1 }];
  if (hard) {
    for (let i = 0; i < 3; i++) {
      lighting.push({ at: Math.floor(rand() * t), gain: 0.65 + rand() * 0.6 });
    }
    lighting.sort((a, b) => a.at - b.at);
  }
  return {
    seed,
    durationMs: t,
    products,
    shelves,
    sessions,
    actions,
    lighting,
    noise: hard ? 9 : 3,
    motionBlur: true,
    occluder: hard,
    cameras: [...(options.cameras ?? standardCameras())],
  };
}

/** The ground truth of a scenario. */
export function scenarioTruth(scenario: Scenario): ScenarioTruth {
  const events: TruthEvent[] = [];
  const carts: Map<string, number>[] = [];
  for (const session of scenario.sessions) {
    const cart = new Map<string, number>();
    events.push({ type: "door_opened", sessionId: session.id, at: session.openAt });
    for (const a of scenario.actions) {
      if (a.at < session.openAt || a.at > session.closeAt) continue;
      const type = a.kind === "take" ? "item_taken" : "item_returned";
      events.push({
        type,
        sessionId: session.id,
        sku: a.sku,
        shelf: a.shelf,
        slot: a.slot,
        at: a.at,
      });
      const n = (cart.get(a.sku) ?? 0) + (a.kind === "take" ? 1 : -1);
      if (n > 0) cart.set(a.sku, n);
      else cart.delete(a.sku);
    }
    events.push({ type: "door_closed", sessionId: session.id, at: session.closeAt });
    carts.push(cart);
  }
  return { events, carts };
}

/** Units in each slot at time `t` (after every action at or before `t`). */
export function stockAt(scenario: Scenario, t: number): number[][] {
  const stock = scenario.shelves.map((row) => row.map((slot) => (slot.sku ? slot.stock : 0)));
  for (const a of scenario.actions) {
    if (a.at > t) break;
    stock[a.shelf]![a.slot]! += a.kind === "take" ? -1 : 1;
  }
  return stock;
}
