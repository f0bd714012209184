/**
 * How a simulated restocker fills the cabinet: each slot with the SKU the machine's planogram
 * gives it, as far as the world deviates from it (a product put in the wrong slot, a slot left
 * empty), drawn from the scenario's seed so both devices of a cabinet film the same shelves.
 * The shopper's hand then takes what is really there. Simulation only: a device learns of a
 * deviation from its cameras alone.
 *
 * @example
 * ```ts
 * import { randomScenario } from "../../pipeline/mod.ts";
 * import { stockScenario } from "./world_stocking.ts";
 *
 * const { scenario, deviations } = stockScenario(randomScenario(7), {
 *   slots: [{ shelf: 0, slot: 0, sku: "COLA-330" }],
 *   deviations: { wrongSlot: 1 },
 * });
 * console.log(scenario.shelves[0]?.[0]?.sku, deviations); // the world, and how it strays
 * ```
 *
 * @module
 */
import {
  checkProbability,
  DEFAULT_PRODUCTS,
  prng,
  type Product,
  type Scenario,
  type SkuAssignment,
  type Slot,
} from "../../pipeline/mod.ts";

/**
 * The simulated cabinet's usual planogram: 3 shelves of 4 slots holding `products`' first 12
 * SKUs in order (by default the catalogue's), each filled to `par` units (default 4).
 */
export function standardSlots(
  options: { products?: readonly Product[]; par?: number } = {},
): Array<SkuAssignment & { par: number }> {
  const products = options.products ?? DEFAULT_PRODUCTS;
  const par = options.par ?? 4;
  return [0, 1, 2].flatMap((shelf) =>
    [0, 1, 2, 3].map((slot) => ({
      shelf,
      slot,
      sku: products[(shelf * 4 + slot) % products.length]!.sku,
      par,
    }))
  );
}

/** How often the world strays from the planogram: probabilities per scenario, 0..1. */
export interface WorldDeviations {
  /** Two slots' products swapped (each in the other's slot). */
  readonly wrongSlot?: number;
  /** A stocked slot left empty. */
  readonly emptySlot?: number;
}

/** What the restocker stocks from: the planogram's slots and how the world strays. */
export interface WorldStocking {
  /** The SKU of each slot (slots not listed are empty). */
  readonly slots: readonly SkuAssignment[];
  /** Deviations. Default none. */
  readonly deviations?: WorldDeviations;
  /**
   * Products the world holds beyond the scenario's (newly stocked, their look drawn by the
   * world renderer, see `new_product.ts`). Default none.
   */
  readonly products?: readonly Product[];
}

/**
 * `scenario` with its shelves stocked as `stocking` says (the shopper's takes from a slot left
 * empty are dropped, the others take the SKU really there), and what deviates from the
 * planogram, in words.
 */
export function stockScenario(
  scenario: Scenario,
  stocking: WorldStocking,
): { scenario: Scenario; deviations: string[] } {
  const wrongSlot = checkProbability("wrongSlot", stocking.deviations?.wrongSlot);
  const emptySlot = checkProbability("emptySlot", stocking.deviations?.emptySlot);
  const known = new Set(scenario.products.map((p) => p.sku));
  const products = [
    ...scenario.products,
    ...(stocking.products ?? []).filter((p) => !known.has(p.sku)),
  ];
  const looks = new Set(products.map((p) => p.sku));
  const planned = new Map<string, string | null>();
  for (const s of stocking.slots) {
    if (s.sku !== null && !looks.has(s.sku)) {
      throw new TypeError(`The simulated world cannot show SKU "${s.sku}": it has no look for it`);
    }
    planned.set(`${s.shelf}/${s.slot}`, s.sku);
  }
  const shelves: Slot[][] = scenario.shelves.map((row, shelf) =>
    row.map((slot, k) => {
      const sku = planned.get(`${shelf}/${k}`) ?? null;
      return { sku, stock: sku === null ? 0 : slot.stock };
    })
  );
  const deviations: string[] = [];
  // Its own stream of the seed: the scenario's other random choices stay as they were.
  const rand = prng(scenario.seed ^ 0x5eed_5107);
  const stocked = shelves.flatMap((row, s) =>
    row.flatMap((slot, k) => (slot.sku !== null ? [[s, k] as const] : []))
  );
  if (rand() < wrongSlot && stocked.length >= 2) {
    const [a, b] = twoOf(stocked, rand);
    const x = shelves[a[0]]![a[1]]!;
    const y = shelves[b[0]]![b[1]]!;
    if (x.sku !== y.sku) {
      // Only the products move: each slot keeps its units (the shopper's takes were drawn on them).
      shelves[a[0]]![a[1]] = { sku: y.sku, stock: x.stock };
      shelves[b[0]]![b[1]] = { sku: x.sku, stock: y.stock };
      deviations.push(
        `shelf ${a[0]} slot ${a[1]} holds ${y.sku} and shelf ${b[0]} slot ${
          b[1]
        } holds ${x.sku} (swapped)`,
      );
    }
  }
  if (rand() < emptySlot && stocked.length >= 1) {
    const [s, k] = stocked[Math.floor(rand() * stocked.length)]!;
    shelves[s]![k] = { sku: null, stock: 0 };
    deviations.push(`shelf ${s} slot ${k} is empty`);
  }
  const actions = scenario.actions
    .filter((a) => shelves[a.shelf]?.[a.slot]?.sku != null)
    .map((a) => ({ ...a, sku: shelves[a.shelf]![a.slot]!.sku! }));
  return { scenario: { ...scenario, products, shelves, actions }, deviations };
}

function twoOf<T>(xs: readonly T[], rand: () => number): [T, T] {
  const i = Math.floor(rand() * xs.length);
  let j = Math.floor(rand() * (xs.length - 1));
  if (j >= i) j++;
  return [xs[i]!, xs[j]!];
}
